import torch

from trainers.data.chat import IGNORE_INDEX, Tokenized
from trainers.data.collate import pack_batch, pack_rows, pad_batch, padding_tokens


def doc(n: int, offset: int) -> Tokenized:
    ids = list(range(offset, offset + n))
    return Tokenized(input_ids=ids, labels=ids)


def test_pack_restarts_positions_and_unlabels_first_tokens():
    docs = [doc(3, 10), doc(4, 20), doc(2, 30)]
    batch = pack_batch(docs)
    assert "attention_mask" not in batch
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1, 2, 3, 0, 1]]
    assert batch["doc_index"].tolist() == [[0, 0, 0, 1, 1, 1, 1, 2, 2]]
    labels = batch["labels"][0].tolist()
    assert labels[0] == labels[3] == labels[7] == IGNORE_INDEX
    assert labels[1:3] == [11, 12] and labels[8] == 31
    assert padding_tokens(batch) == 0


def test_pad_batch_masks_padding():
    batch = pad_batch([doc(3, 10), doc(1, 20)], pad_id=0)
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"][1].tolist() == [IGNORE_INDEX] * 3
    assert padding_tokens(batch) == 2


def test_pack_rows_fits_capacity_and_pads_as_own_document():
    groups = pack_rows([5, 3, 4, 2], capacity=7)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3]
    assert all(sum([5, 3, 4, 2][i] for i in g) <= 7 for g in groups)
    batch = pack_batch([doc(5, 0), doc(3, 10), doc(4, 20), doc(2, 30)], capacity=7)
    assert batch["input_ids"].shape == (len(groups), 7)
    for row_pos, row_doc in zip(batch["position_ids"], batch["doc_index"], strict=True):
        pad = row_doc < 0
        if pad.any():  # padding restarts its positions, so no real token attends to it
            assert row_pos[pad][0] == 0
    assert torch.equal(
        batch["labels"][batch["doc_index"] < 0],
        torch.full_like(batch["labels"][batch["doc_index"] < 0], IGNORE_INDEX),
    )


def test_capacity_zero_packs_to_the_longest_document():
    docs = [doc(6, 0), doc(2, 10), doc(3, 20), doc(1, 30), doc(4, 40)]
    batch = pack_batch(docs, capacity=0)
    assert batch["input_ids"].shape[1] == 6
    assert batch["input_ids"].shape[0] < len(docs)
    assert sorted(set(batch["doc_index"].flatten().tolist()) - {-1}) == [0, 1, 2, 3, 4]


def test_pack_length_is_a_cap_not_a_minimum():
    """A document longer than the row capacity used to widen its row; now it is an error
    (the loaders cut documents to --pack-length before they reach the collator)."""
    import pytest

    with pytest.raises(ValueError, match="does not fit a packed row of 4"):
        pack_rows([3, 9, 2], capacity=4)
    batch = pack_batch([doc(4, 0), doc(3, 10), doc(1, 20)], capacity=4)
    assert batch["input_ids"].shape[1] == 4


def test_cap_documents_truncates_counts_and_removes_label_free():
    from manifests import Accounting
    from trainers.data.mix import Pair, cap_documents

    prompt_only = Tokenized(input_ids=list(range(8)), labels=[IGNORE_INDEX] * 6 + [6, 7])
    docs = [doc(3, 0), doc(7, 10), prompt_only]
    accounting = Accounting(rows_in=3, rows_out=3)
    kept, truncated = cap_documents(docs, 5, "sft", accounting)
    assert truncated == 2
    assert [len(d.input_ids) for d in kept] == [3, 5]
    assert list(kept[1].labels) == [10, 11, 12, 13, 14]
    assert accounting.removed == {"no_labels_after_pack_length": 1}
    assert accounting.rows_out == 2 and accounting.balanced()
    # Pairs: both sides cut; untouched when both fit; None/0 cap nothing.
    pairs = [Pair(doc(6, 0), doc(2, 10)), Pair(doc(2, 0), doc(3, 10))]
    kept, truncated = cap_documents(pairs, 4, "preference", Accounting(rows_in=2, rows_out=2))
    assert truncated == 1 and len(kept[0].chosen.input_ids) == 4 and kept[1] is pairs[1]
    assert cap_documents(docs, None, "sft", Accounting()) == (docs, 0)
    assert cap_documents(docs, 0, "sft", Accounting()) == (docs, 0)
