"""Collators: a micro-batch of tokenized documents -> model inputs.

`pad_batch` right-pads rows and passes an attention mask. `pack_batch` concatenates the
documents into one row with `position_ids` restarting at 0 per document and NO attention
mask: transformers then builds a block-diagonal causal mask from the position ids, so the
documents cannot see each other (the forward must also pass `use_cache=False`; see
`trainers.losses.sft.forward_logits`). Both return `doc_index` (which document each token belongs
to, -1 on padding) so per-document sums work on either layout.

What each attention backend needs from a packed batch (read from transformers 5.24):
- flash_attention_2/3: the varlen kernel is used when cumulative sequence lengths are passed,
  or inferred from `position_ids` (`_is_packed_sequence`) only when the batch has ONE row.
  Several packed rows without a mask would run the plain kernel and let documents attend to
  each other, so `Layout.one_row` lays the whole micro-batch in one row.
- sdpa/eager: `create_causal_mask` finds the documents from `position_ids` (no mask, no
  cache) and builds a dense boolean (sdpa) or float (eager) mask of rows x width x width.
  Rows that would make it larger than `DENSE_MASK_BUDGET` bytes are split into rows as long as
  the longest document (`pack_length` 0), which bounds the mask by the padded layout's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
    arrays = {
        "input_ids": ids,
        "labels": labels,
        "attention_mask": mask,
        "position_ids": positions,
        "doc_index": doc_index,
    }
    return {key: torch.from_numpy(value) for key, value in arrays.items()}


def _pack_row(
    docs: Sequence[Tokenized], indices: Sequence[int], width: int, pad_id: int
) -> dict[str, np.ndarray]:
    """One packed row of `width` tokens; padding at the end restarts its positions at 0, so
    it is a document of its own that no real token attends to."""
    lengths = [len(d.input_ids) for d in docs]
    pad = width - sum(lengths)
    return {
        "input_ids": np.concatenate(
            [*(np.asarray(d.input_ids) for d in docs), np.full(pad, pad_id)]
        ),
        "labels": np.concatenate([*(_doc_labels(d) for d in docs), np.full(pad, IGNORE_INDEX)]),
        "position_ids": np.concatenate([*(np.arange(n) for n in lengths), np.arange(pad)]),
        "doc_index": np.concatenate(
            [*(np.full(n, i) for i, n in zip(indices, lengths, strict=True)), np.full(pad, -1)]
        ),
    }


def pack_rows(lengths: Sequence[int], capacity: int | None) -> list[list[int]]:
    """Group document indices into rows of at most `capacity` tokens (first fit, longest
    first); `None` puts everything in one row. A document longer than `capacity` is an error:
    the loaders cap documents to `pack_length` first (`trainers.data.mix.cap_documents`)."""
    if capacity is None:
        return [list(range(len(lengths)))]
    if lengths and max(lengths) > capacity:
        raise ValueError(
            f"a document of {max(lengths)} tokens does not fit a packed row of "
            f"{capacity} (--pack-length); cap documents when the mix is loaded"
        )
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda k: -lengths[k]):
        slot = next((r for r, free in enumerate(room) if free >= lengths[i]), None)
        if slot is None:
            rows.append([])
            room.append(capacity)
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
    return {
        key: torch.from_numpy(np.stack([r[key] for r in rows]).astype(np.int64)) for key in rows[0]
    }


# One packed row's dense sdpa mask may take this many bytes before rows are split (256 MiB:
# a 16k-token row).
DENSE_MASK_BUDGET = 1 << 28
FLASH_BACKENDS = ("flash_attention_2", "flash_attention_3")


def is_flash(attn_implementation: str | None) -> bool:
    """flash-attention backends, including hub kernels such as kernels-community/flash-attn."""
    name = attn_implementation or ""
    return name in FLASH_BACKENDS or "flash-attn" in name or "flash_attn" in name


@dataclass(frozen=True)
class Layout:
    """How a micro-batch becomes model inputs."""

    packing: bool = True
    pack_length: int | None = None  # see TrainConfig.pack_length
    one_row: bool = False  # flash attention: the micro-batch in one row, whatever pack_length
    mask_budget: int = DENSE_MASK_BUDGET  # sdpa/eager: bytes one packed row's mask may take

    @classmethod
    def of(cls, config) -> Layout:
        return cls(
            packing=config.packing,
            pack_length=config.pack_length,
            one_row=is_flash(config.attn_implementation),
        )

    def capacity(self, lengths: Sequence[int]) -> int | None:
        """Row capacity for these document lengths: None is one row."""
        if self.one_row:
            return None
        if self.pack_length is None:
            # One row unless its dense mask would pass the budget.
            return None if sum(lengths) ** 2 <= self.mask_budget else 0
        return self.pack_length


def collate(
    docs: Sequence[Tokenized],
    *,
    packing: bool = True,
    pad_id: int,
    pack_length: int | None = None,
    layout: Layout | None = None,
) -> dict[str, torch.Tensor]:
    """Padded or packed inputs; `layout` (when given) overrides packing and pack_length."""
    layout = layout or Layout(
        packing=packing, pack_length=pack_length, mask_budget=1 << 62
    )  # bare calls keep the exact layout asked
    if not layout.packing:
        return pad_batch(docs, pad_id)
    return pack_batch(docs, pad_id, layout.capacity([len(d.input_ids) for d in docs]))


def padding_tokens(batch: dict[str, torch.Tensor]) -> int:
    return int((batch["doc_index"] < 0).sum())
