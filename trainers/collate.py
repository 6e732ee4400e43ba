"""Collators: a micro-batch of tokenized documents -> model inputs.

`pad_batch` right-pads rows and passes an attention mask. `pack_batch` concatenates the
documents into one row with `position_ids` restarting at 0 per document and NO attention
mask: transformers then builds a block-diagonal causal mask from the position ids, so the
documents cannot see each other (the forward must also pass `use_cache=False`; see
`trainers.loss.forward_logits`). Both return `doc_index` (which document each token belongs
to, -1 on padding) so per-document sums work on either layout.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from trainers.chat import IGNORE_INDEX, Tokenized


def _doc_labels(doc: Tokenized) -> list[int]:
    # The first token of a document has nothing of its own to be predicted from.
    return [IGNORE_INDEX, *doc.labels[1:]]


def pad_batch(docs: Sequence[Tokenized], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(d.input_ids) for d in docs)
    ids, labels, mask, positions, doc_index = [], [], [], [], []
    for i, doc in enumerate(docs):
        n, pad = len(doc.input_ids), width - len(doc.input_ids)
        ids.append(list(doc.input_ids) + [pad_id] * pad)
        labels.append(_doc_labels(doc) + [IGNORE_INDEX] * pad)
        mask.append([1] * n + [0] * pad)
        positions.append(list(range(n)) + [0] * pad)
        doc_index.append([i] * n + [-1] * pad)
    return {
        "input_ids": torch.tensor(ids),
        "labels": torch.tensor(labels),
        "attention_mask": torch.tensor(mask),
        "position_ids": torch.tensor(positions),
        "doc_index": torch.tensor(doc_index),
    }


def _pack_row(docs: Sequence[Tokenized], first_index: Sequence[int]) -> dict[str, list[int]]:
    row: dict[str, list[int]] = {"input_ids": [], "labels": [], "position_ids": [], "doc_index": []}
    for i, doc in zip(first_index, docs, strict=True):
        row["input_ids"].extend(doc.input_ids)
        row["labels"].extend(_doc_labels(doc))
        row["position_ids"].extend(range(len(doc.input_ids)))
        row["doc_index"].extend([i] * len(doc.input_ids))
    return row


def pack_rows(lengths: Sequence[int], capacity: int | None) -> list[list[int]]:
    """Group document indices into rows of at most `capacity` tokens (first fit, longest
    first); `None` puts everything in one row."""
    if capacity is None:
        return [list(range(len(lengths)))]
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda k: -lengths[k]):
        slot = next((r for r, free in enumerate(room) if free >= lengths[i]), None)
        if slot is None:
            rows.append([])
            room.append(max(capacity, lengths[i]))
            slot = len(rows) - 1
        rows[slot].append(i)
        room[slot] -= lengths[i]
    return [sorted(r) for r in rows]


def pack_batch(
    docs: Sequence[Tokenized], pad_id: int = 0, capacity: int | None = None
) -> dict[str, torch.Tensor]:
    """Packed rows: `capacity` None puts the micro-batch in one row (padding-free, best with
    flash attention's variable-length kernels); 0 packs into rows as long as the longest
    document (no row longer than the padded layout's, which suits sdpa/eager attention,
    whose cost grows with the square of the row length)."""
    lengths = [len(d.input_ids) for d in docs]
    groups = pack_rows(lengths, max(lengths) if capacity == 0 else capacity)
    rows = [_pack_row([docs[i] for i in g], g) for g in groups]
    width = max(len(r["input_ids"]) for r in rows)
    for r in rows:
        pad = width - len(r["input_ids"])
        r["input_ids"] += [pad_id] * pad
        r["labels"] += [IGNORE_INDEX] * pad
        r["position_ids"] += list(range(pad))  # padding is its own document: nobody sees it
        r["doc_index"] += [-1] * pad
    return {key: torch.tensor([r[key] for r in rows]) for key in rows[0]}


def collate(
    docs: Sequence[Tokenized], *, packing: bool, pad_id: int, pack_length: int | None = None
) -> dict[str, torch.Tensor]:
    if packing:
        return pack_batch(docs, pad_id, pack_length)
    return pad_batch(docs, pad_id)


def padding_tokens(batch: dict[str, torch.Tensor]) -> int:
    return int((batch["doc_index"] < 0).sum())
