"""Row statistics for `skillmix inspect`: kinds, skills, sources, turns, characters, tokens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from manifests.accounting import Accounting
from manifests.adapters import detect_kind
from manifests.progress import track
from manifests.rejects import REJECTS_NAME, RejectsWriter
from manifests.rows import read_rows
from manifests.schemas import MESSAGE_FIELDS


@dataclass
class Summary:
    """Running min / mean / max of one measure."""

    count: int = 0
    total: int = 0
    low: int | None = None
    high: int | None = None

    def add(self, value: int) -> None:
        self.count += 1
        self.total += value
        self.low = value if self.low is None else min(self.low, value)
        self.high = value if self.high is None else max(self.high, value)

    def to_dict(self) -> dict:
        mean = round(self.total / self.count, 2) if self.count else 0.0
        return {"total": self.total, "min": self.low or 0, "mean": mean, "max": self.high or 0}


@dataclass
class RowStats:
    rows: int = 0
    kinds: Counter = field(default_factory=Counter)
    skills: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    turns: Summary = field(default_factory=Summary)
    chars: Summary = field(default_factory=Summary)
    tokens: Summary | None = None

    def add(self, row: dict, kind: str, count_tokens: Callable[[str], int] | None = None) -> None:
        self.rows += 1
        self.kinds[kind] += 1
        self.skills[row["skill"]] += 1
        self.sources[row["source"]] += 1
        # Preference rows are measured on the chosen conversation.
        messages = row[MESSAGE_FIELDS[kind][0]]
        text = "\n".join(m["content"] for m in messages)
        self.turns.add(len(messages))
        self.chars.add(len(text))
        if count_tokens is not None:
            if self.tokens is None:
                self.tokens = Summary()
            self.tokens.add(count_tokens(text))

    def to_dict(self) -> dict:
        return {
            "rows": self.rows,
            "kinds": dict(self.kinds.most_common()),
            "skills": dict(self.skills.most_common()),
            "sources": dict(self.sources.most_common()),
            "turns": self.turns.to_dict(),
            "chars": self.chars.to_dict(),
            "tokens": self.tokens.to_dict() if self.tokens else None,
        }


def token_counter(tokenizer_path: str) -> Callable[[str], int]:
    """Counts tokens with a transformers tokenizer (a local folder or a hub name)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def collect_stats(
    rows: Iterable[dict], kind_of: Callable[[dict], str], count_tokens=None
) -> RowStats:
    stats = RowStats()
    for row in rows:
        stats.add(row, kind_of(row), count_tokens)
    return stats


@dataclass
class Inspection:
    """What `inspect_inputs` found: `stats` (RowStats.to_dict() and the accounting), the
    accounting itself, and where bad rows went (None when there were none)."""

    stats: dict
    accounting: Accounting
    rejects_path: Path | None


def inspect_inputs(
    paths: Sequence[str | Path],
    kind: str | None = None,
    *,
    tokenizer: str | None = None,
    mapping: dict[str, str] | None = None,
    on_bad_row: str = "error",
    rejects: str | Path = REJECTS_NAME,
) -> Inspection:
    """Statistics over every row of `paths` (each read by `read_rows`, bad rows through its
    gate; with "skip" they go to `rejects`). `tokenizer` also counts tokens."""
    count_tokens = token_counter(tokenizer) if tokenizer else None
    acc = Accounting()
    stats = RowStats()
    with RejectsWriter(rejects) as rejects_writer:
        for path in paths:
            rows = read_rows(
                path,
                kind,
                mapping=mapping,
                on_bad_row=on_bad_row,
                rejects=rejects_writer,
                accounting=acc,
            )
            for row in track(rows, desc=f"inspect {path}"):
                stats.add(row, kind or detect_kind(row), count_tokens)
    result = stats.to_dict()
    result["accounting"] = acc.to_dict()
    return Inspection(result, acc, rejects_writer.path if rejects_writer.count else None)
