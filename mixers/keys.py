"""Per-row values computed on whole Arrow tables: prompt keys for exact dedup, token counts."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import polars as pl
import pyarrow as pa

from manifests.schemas import MESSAGE_FIELDS

KEY_SEED = 0x5EED


def _turns_text(field: str, roles: tuple[str, ...]) -> pl.Expr:
    turn = pl.element()
    return (
        pl.col(field)
        .list.eval(turn.filter(turn.struct.field("role").is_in(roles)).struct.field("content"))
        .list.join("\n")
    )


def normalized_prompts(table: pa.Table, kind: str) -> pl.Series:
    """The user turns of each row (preference: of `chosen`), lowercased, whitespace collapsed."""
    field = MESSAGE_FIELDS[kind][0]
    frame = pl.from_arrow(table.select([field]))
    assert isinstance(frame, pl.DataFrame)
    text = (
        _turns_text(field, ("user",))
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    return frame.select(text.alias("prompt")).to_series()


def prompt_keys(table: pa.Table, kind: str) -> np.ndarray:
    """A 64-bit hash of each row's normalized prompt: equal prompts, equal keys."""
    if table.num_rows == 0:
        return np.zeros(0, dtype=np.uint64)
    return normalized_prompts(table, kind).hash(seed=KEY_SEED).to_numpy().astype(np.uint64)


def row_texts(table: pa.Table, kind: str) -> list[str]:
    """Every turn but system prompts, joined by newlines (as `manifests.row_text(row, "all")`)."""
    field = MESSAGE_FIELDS[kind][0]
    frame = pl.from_arrow(table.select([field]))
    assert isinstance(frame, pl.DataFrame)
    roles = ("user", "assistant", "tool")
    return frame.select(_turns_text(field, roles).alias("text")).to_series().to_list()


def token_counts(table: pa.Table, kind: str, count: Callable[[list[str]], list[int]]) -> np.ndarray:
    if table.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(count(row_texts(table, kind)), dtype=np.int64)


def tokenizer_counter(path: str) -> Callable[[list[str]], list[int]]:
    """Token counts of many texts at once with a transformers tokenizer (a local folder)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    lock = threading.Lock()  # sources are read in threads; one tokenizer call at a time

    def count(texts: list[str]) -> list[int]:
        with lock:
            encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    return count
