"""Streams training rows through the matchers and keeps the books: which rows are
flagged, which instances each source overlaps, the match log and the cleaned copy.

Rows with no match are settled (kept) at once. Rows that share an n-gram with an
instance under `ngram-any` wait until the end, because an n-gram may turn out to be in
too many rows to count; those that end up kept are written after the others.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO

import numpy as np

from decontam.engine import DecontamConfig, Match, Matchers, run_batches
from decontam.index import EvalCorpus
from manifests import Accounting, RowWriter, detect_kind, row_text

TOP_PAIRS = 40


@dataclass
class _Pending:
    source: str
    row_id: str
    row: dict
    text: str
    keys: np.ndarray
    matches: list[dict]


@dataclass
class AuditState:
    """What the audit learned; enough to build report.json."""

    rows: Counter = field(default_factory=Counter)  # source -> rows
    flagged: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # Rows, not ids: exact duplicates share a content-hash id and each one is removed.
    flagged_rows: Counter = field(default_factory=Counter)  # source -> flagged rows
    hits: dict[str, dict[str, set[int]]] = field(  # method -> source -> instances
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    flagged_by_method: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    match_count: int = 0
    top: list = field(default_factory=list)  # heap of (score, seq, pair for the HTML page)
    accounting: Accounting = field(default_factory=Accounting)


def safe_name(source: str) -> str:
    return re.sub(r"[^\w.-]+", "_", source) or "unnamed"


def _batches(rows: Iterable[dict], size: int, fields: str) -> Iterator[tuple[list, list[str]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk, [row_text(row, fields) for row in chunk]


class Audit:
    def __init__(
        self,
        corpus: EvalCorpus,
        config: DecontamConfig,
        out_dir: Path | None = None,
        remove: bool = False,
    ) -> None:
        self.corpus = corpus
        self.config = config
        self.matchers = Matchers(corpus, config)
        self.state = AuditState()
        self.out_dir = out_dir
        self.remove = remove and out_dir is not None
        self.pending: list[_Pending] = []
        self._seq = 0
        self._any_counts = (
            np.zeros(self.matchers.any.num_keys, dtype=np.int64) if self.matchers.any else None
        )
        self._matches_out: IO[str] | None = None
        self._kept: dict[str, RowWriter] = {}
        self._removed: dict[str, IO[str]] = {}
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            self._matches_out = open(out_dir / "matches.jsonl", "w", encoding="utf-8")  # noqa: SIM115

    def run(self, rows: Iterable[dict]) -> AuditState:
        try:
            batches = _batches(rows, self.config.batch_size, self.config.fields)
            for chunk, result in run_batches(self.matchers, batches, self.config.workers):
                self._take(chunk, result.matches, result.any_hits)
            self._settle_pending()
        finally:
            self._close()
        return self.state

    def _take(self, chunk: list[dict], matches: list[Match], any_hits: dict) -> None:
        by_doc: dict[int, list[Match]] = defaultdict(list)
        for match in matches:
            by_doc[match.doc].append(match)
        cap = self.config.max_ngram_rows
        for doc, row in enumerate(chunk):
            source = str(row.get("source") or "unknown")
            row_id = str(row.get("id", self.state.accounting.rows_in))
            self.state.accounting.add_in()
            self.state.rows[source] += 1
            records = [self._record(source, row_id, m) for m in by_doc.get(doc, [])]
            keys = any_hits.get(doc)
            if keys is not None:
                assert self._any_counts is not None
                self._any_counts[keys] += 1
                if cap is None or (self._any_counts[keys] <= cap).any():
                    text = row_text(row, self.config.fields)
                    self.pending.append(_Pending(source, row_id, row, text, keys, records))
                    continue
            self._settle(source, row_id, row, records, None)

    def _record(self, source: str, row_id: str, match: Match, text: str | None = None) -> dict:
        record = {
            "source": source,
            "train_id": row_id,
            "eval": self.corpus.names[self.corpus.eval_of[match.inst]],
            "eval_id": self.corpus.ids[match.inst],
            "method": match.method,
            "score": round(match.score, 6),
            "train_spans": [list(s) for s in match.train_spans],
            "eval_spans": [list(s) for s in match.eval_spans],
        }
        record["_inst"] = match.inst
        return record

    def _settle_pending(self) -> None:
        if self._any_counts is None:
            return
        cap = self.config.max_ngram_rows
        common = (
            self._any_counts > cap if cap is not None else np.zeros(len(self._any_counts), bool)
        )
        assert self.matchers.any is not None
        for item in self.pending:
            allowed = item.keys[~common[item.keys]]
            insts, scores = self.matchers.any.pairs_for(allowed)
            for inst, score in zip(insts, scores, strict=True):
                match = self.matchers.describe(0, int(inst), "ngram-any", float(score), item.text)
                item.matches.append(self._record(item.source, item.row_id, match))
            self._settle(item.source, item.row_id, item.row, item.matches, item.text)
        self.pending = []

    def _settle(
        self, source: str, row_id: str, row: dict, records: list[dict], text: str | None
    ) -> None:
        state = self.state
        for record in records:
            inst = record.pop("_inst")
            state.hits[record["method"]][source].add(inst)
            state.match_count += 1
            if self._matches_out is not None:
                self._matches_out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._keep_top(record, inst, row, text)
        if records:
            state.flagged[source].add(row_id)
            state.flagged_rows[source] += 1
            for method in {r["method"] for r in records}:
                state.flagged_by_method[method][source] += 1
            state.accounting.remove("contaminated")
            if self.remove:
                self._removed_file(source).write(
                    json.dumps({"row": row, "matches": records}, ensure_ascii=False) + "\n"
                )
        else:
            state.accounting.add_out()
            if self.remove:
                self._kept_writer(source, row).write(row)

    def _keep_top(self, record: dict, inst: int, row: dict, text: str | None) -> None:
        self._seq += 1
        item = (record["score"], -self._seq)
        heap = self.state.top
        if len(heap) >= TOP_PAIRS and item <= heap[0][:2]:
            return
        pair = dict(record)
        pair["train_text"] = text if text is not None else row_text(row, self.config.fields)
        pair["eval_text"] = self.corpus.texts[inst]
        if len(heap) >= TOP_PAIRS:
            heapq.heapreplace(heap, (*item, pair))
        else:
            heapq.heappush(heap, (*item, pair))

    def _kept_writer(self, source: str, row: dict) -> RowWriter:
        if source not in self._kept:
            assert self.out_dir is not None
            path = self.out_dir / "kept" / f"{safe_name(source)}.jsonl"
            self._kept[source] = RowWriter(path, detect_kind(row))
        return self._kept[source]

    def _removed_file(self, source: str) -> IO[str]:
        if source not in self._removed:
            assert self.out_dir is not None
            path = self.out_dir / "removed" / f"{safe_name(source)}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._removed[source] = open(path, "w", encoding="utf-8")  # noqa: SIM115
        return self._removed[source]

    def _close(self) -> None:
        if self._matches_out is not None:
            self._matches_out.close()
        for writer in self._kept.values():
            writer.close()
        for fh in self._removed.values():
            fh.close()
