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
    assert torch.equal(batch["labels"][batch["doc_index"] < 0],
                       torch.full_like(batch["labels"][batch["doc_index"] < 0], IGNORE_INDEX))


def test_capacity_zero_packs_to_the_longest_document():
    docs = [doc(6, 0), doc(2, 10), doc(3, 20), doc(1, 30), doc(4, 40)]
    batch = pack_batch(docs, capacity=0)
    assert batch["input_ids"].shape[1] == 6
    assert batch["input_ids"].shape[0] < len(docs)
    assert sorted(set(batch["doc_index"].flatten().tolist()) - {-1}) == [0, 1, 2, 3, 4]
