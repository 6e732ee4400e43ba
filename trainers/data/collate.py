"""Collators: a micro-batch of tokenized documents -> model inputs.

`pad_batch` right-pads rows and passes an attention mask. `pack_batch` concatenates the
documents into one row with `position_ids` restarting at 0 per document and NO attention
mask: transformers then builds a block-diagonal causal mask from the position ids, so the
documents cannot see each other (the forward must also pass `use_cache=False`; see
`trainers.losses.sft.forward_logits`). Both return `doc_index` (which document each token belongs
to, -1 on padding) so per-document sums work on either layout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from trainers.data.chat import IGNORE_INDEX, Tokenized


def _doc_labels(doc: Tokenized) -> np.ndarray:
    labels = np.array(doc.labels, dtype=np.int64)
    if len(labels):
        labels[0] = IGNORE_INDEX  # the first token has nothing of its own to be predicted from
    return labels


def pad_batch(docs: Sequence[Tokenized], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(d.input_ids) for d in docs)
    shape = (len(docs), width)
    ids = np.full(shape, pad_id, dtype=np.int64)
    labels = np.full(shape, IGNORE_INDEX, dtype=np.int64)
    mask = np.zeros(shape, dtype=np.int64)
    positions = np.zeros(shape, dtype=np.int64)
    doc_index = np.full(shape, -1, dtype=np.int64)
    for i, doc in enumerate(docs):
        n = len(doc.input_ids)
        ids[i, :n] = doc.input_ids
        labels[i, :n] = _doc_labels(doc)
        mask[i, :n] = 1
        positions[i, :n] = np.arange(n)
        doc_index[i, :n] = i
    arrays = {"input_ids": ids, "labels": labels, "attention_mask": mask,
              "position_ids": positions, "doc_index": doc_index}
    return {key: torch.from_numpy(value) for key, value in arrays.items()}


def _pack_row(docs: Sequence[Tokenized], indices: Sequence[int], width: int,
              pad_id: int) -> dict[str, np.ndarray]:
    """One packed row of `width` tokens; padding at the end restarts its positions at 0, so
    it is a document of its own that no real token attends to."""
    lengths = [len(d.input_ids) for d in docs]
    pad = width - sum(lengths)
    return {
        "input_ids": np.concatenate([*(np.asarray(d.input_ids) for d in docs),
                                     np.full(pad, pad_id)]),
        "labels": np.concatenate([*(_doc_labels(d) for d in docs),
                                  np.full(pad, IGNORE_INDEX)]),
        "position_ids": np.concatenate([*(np.arange(n) for n in lengths), np.arange(pad)]),
        "doc_index": np.concatenate([*(np.full(n, i) for i, n in zip(indices, lengths,
                                                                      strict=True)),
                                     np.full(pad, -1)]),
    }


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
    width = max(sum(lengths[i] for i in g) for g in groups)
    rows = [_pack_row([docs[i] for i in g], g, width, pad_id) for g in groups]
    return {key: torch.from_numpy(np.stack([r[key] for r in rows]).astype(np.int64))
            for key in rows[0]}


def collate(
    docs: Sequence[Tokenized], *, packing: bool, pad_id: int, pack_length: int | None = None
) -> dict[str, torch.Tensor]:
    if packing:
        return pack_batch(docs, pad_id, pack_length)
    return pad_batch(docs, pad_id)


def padding_tokens(batch: dict[str, torch.Tensor]) -> int:
    return int((batch["doc_index"] < 0).sum())
