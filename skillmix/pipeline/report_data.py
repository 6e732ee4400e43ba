"""What the run report reads besides stage records: a training run's metrics.jsonl, and a
mix's shards profiled (length and turns per row, rows per skill)."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

# Beyond this many rows a mix is profiled on an evenly spaced sample (said on the page).
PROFILE_ROWS = 50_000
HIST_BINS = 12
NO_SKILL = "(no skill)"


@dataclass
class Curve:
    """(step, value) points of one metric, in file order, and the lines that gave none."""

    points: list[tuple[float, float]] = field(default_factory=list)
    unreadable: int = 0  # lines that are not JSON objects with a numeric step and value
    tokens: float = 0.0  # sum of the lines' "tokens"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_curve(path: Path, key: str = "loss") -> Curve:
    curve = Curve()
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                curve.unreadable += 1
                continue
            if not isinstance(entry, dict):
                curve.unreadable += 1
                continue
            step, value = entry.get("step"), entry.get(key)
            if not (_is_number(step) and _is_number(value)):
                curve.unreadable += 1
                continue
            curve.points.append((float(step), float(value)))
            if _is_number(entry.get("tokens")):
                curve.tokens += entry["tokens"]
    return curve


@dataclass
class MixProfile:
    total: int  # rows in the mix
    profiled: int  # rows read (all of them unless the mix is larger than PROFILE_ROWS)
    unit: str  # what a length counts: "tokens (<tokenizer>)" or "whitespace words"
    lengths: list[int]
    turns: list[int]
    skills: list[tuple[str, int]]  # most rows first


def whitespace_words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def load_length_counter(
    model_dir: Path | None, stage: str
) -> tuple[Callable[[list[str]], list[int]], str]:
    """Token counts with the tokenizer.json that train stage `stage` saved in `model_dir`
    (read by `tokenizers` alone: no torch import for a report), else whitespace words."""
    path = model_dir / "tokenizer.json" if model_dir is not None else None
    if path is None or not path.is_file():
        return whitespace_words, "whitespace words"
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))

    def count(texts: list[str]) -> list[int]:
        return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]

    return count, f"tokens (tokenizer of stage {stage})"


def _batches(mix_dir: Path, manifest: dict, columns: list[str]) -> Iterator[pa.RecordBatch]:
    for shard in manifest["shards"]:
        path = mix_dir / shard["file"]
        if manifest.get("format") == "parquet":
            yield from pq.ParquetFile(str(path)).iter_batches(columns=columns)
            continue
        with pa.memory_map(str(path)) as source:
            try:
                reader = ipc.open_file(source)
                batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
            except pa.ArrowInvalid:
                source.seek(0)
                batches = iter(ipc.open_stream(source))
            for batch in batches:
                yield batch.select(columns)


def profile_mix(
    mix_dir: Path,
    manifest: dict,
    count: Callable[[list[str]], list[int]],
    unit: str,
    *,
    limit: int = PROFILE_ROWS,
) -> MixProfile:
    """Length (all turns' text, system included) and turns per row, and rows per skill.
    Preference rows are measured on their chosen conversation."""
    total = int(manifest.get("total_rows") or 0)
    every = max(1, math.ceil(total / limit)) if limit else 1
    convo = "messages" if manifest.get("kind") != "preference" else "chosen"
    skills: Counter[str] = Counter()
    lengths: list[int] = []
    turns: list[int] = []
    index = 0  # of the batch's first row in the mix
    for batch in _batches(mix_dir, manifest, [convo, "skill"]):
        for value in pc.value_counts(batch.column(1)).to_pylist():
            skill = value["values"]
            skills[NO_SKILL if skill is None else skill] += value["counts"]
        # Only the sampled rows' conversations become Python objects: a large mix is
        # profiled without converting every message.
        first = -index % every
        picked = batch.column(0).take(list(range(first, batch.num_rows, every)))
        index += batch.num_rows
        texts = []
        for messages in picked.to_pylist():
            messages = messages or []
            texts.append("\n".join(m["content"] or "" for m in messages))
            turns.append(len(messages))
        lengths += count(texts)
    return MixProfile(
        total=total,
        profiled=len(lengths),
        unit=unit,
        lengths=lengths,
        turns=turns,
        skills=sorted(skills.items(), key=lambda kv: (-kv[1], kv[0])),
    )


def bin_counts(values: list[int], bins: int = HIST_BINS) -> list[tuple[float, float, int]]:
    """Equal-width integer bins from the smallest to the largest value; every value lands
    in exactly one bin. Few distinct small values (turns) get one bin each."""
    if not values:
        return []
    low, high = min(values), max(values)
    width = max(1, math.ceil((high - low + 1) / bins))
    count = math.ceil((high - low + 1) / width)
    counts = [0] * count
    for v in values:
        counts[(v - low) // width] += 1
    return [(low + i * width, low + (i + 1) * width, n) for i, n in enumerate(counts)]
