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
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO

import numpy as np

from decontam.engine import SEMANTIC, DecontamConfig, Match, Matchers, run_batches
from decontam.index import EvalCorpus
from decontam.semantic import SemanticStep
from decontam.spans import KINDS
from manifests import Accounting, RowWriter, detect_kind, row_text
from manifests.atomic import AtomicTarget
from manifests.progress import Progress

TOP_PAIRS = 12  # example pairs kept for the HTML page, per kind of match


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
    # instance -> rows holding it, by source and by the row's best kind of match
    inst_sources: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    inst_kinds: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    rows_by_kind: Counter = field(default_factory=Counter)  # flagged rows by best kind
    source_kinds: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    # kind -> heap of (score, seq, pair for the HTML page); one pair per instance and kind,
    # so an instance copied into many rows does not crowd out the others
    top: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    top_seen: dict = field(default_factory=dict)  # (kind, instance) -> row of its example
    accounting: Accounting = field(default_factory=Accounting)


def safe_name(source: str) -> str:
    return re.sub(r"[^\w.-]+", "_", source) or "unnamed"


def _batches(rows: Iterable[dict], size: int, fields: str) -> Iterator[tuple[tuple, list[str]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        texts = [row_text(row, fields) for row in chunk]
        yield (chunk, texts), texts


class Audit:
    def __init__(
        self,
        corpus: EvalCorpus,
        config: DecontamConfig,
        out_dir: Path | None = None,
        remove: bool = False,
        semantic: SemanticStep | None = None,
    ) -> None:
        self.corpus = corpus
        self.config = config
        self.matchers = Matchers(corpus, config)
        self.semantic = semantic
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
        # every output appears under its name only when complete (manifests.atomic)
        self._targets: list[AtomicTarget] = []
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            self._matches_out = self._open_atomic(out_dir / "matches.jsonl")

    def run(self, rows: Iterable[dict]) -> AuditState:
        total = len(rows) if isinstance(rows, Sized) else None
        try:
            batches = _batches(rows, self.config.batch_size, self.config.fields)
            with Progress(total, desc="decontam: scan", unit="row") as bar:
                for (chunk, texts), result in run_batches(
                    self.matchers, batches, self.config.workers
                ):
                    matches = result.matches
                    if self.semantic is not None:
                        matches = matches + self._semantic_matches(chunk, texts)
                    self._take(chunk, matches, result.any_hits)
                    bar.update(len(chunk), flagged=sum(map(len, self.state.flagged.values())))
            self._settle_pending()
        except BaseException:
            self._close(ok=False)
            raise
        self._close(ok=True)
        return self.state

    def _open_atomic(self, path: Path) -> IO[str]:
        target = AtomicTarget(path)
        self._targets.append(target)
        return open(target.path, "w", encoding="utf-8")

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
                text = row_text(row, self.config.fields)
                if cap is None or (self._any_counts[keys] <= cap).any():
                    self.pending.append(_Pending(source, row_id, row, text, keys, records))
                    continue
                # every n-gram is already common: only a mass copy can flag the row
                records.extend(self._mass_records(source, row_id, keys, text))
            self._settle(source, row_id, row, records, None)

    def _semantic_matches(self, chunk: list[dict], texts: list[str]) -> list[Match]:
        """Candidates of this batch (in the parent: the encoder is not forked), judged
        when the step has a judge; each candidate is logged, the matches returned."""
        step = self.semantic
        assert step is not None
        candidates = step.matcher.candidates(texts)
        verdicts = step.judge_pairs([(texts[c.doc], self.corpus.texts[c.inst]) for c in candidates])
        out = []
        base = self.state.accounting.rows_in
        for cand, (judgment, error) in zip(candidates, verdicts, strict=True):
            row = chunk[cand.doc]
            record = {
                "source": str(row.get("source") or "unknown"),
                "train_id": str(row.get("id", base + cand.doc)),
                "eval": self.corpus.names[self.corpus.eval_of[cand.inst]],
                "eval_id": self.corpus.ids[cand.inst],
                "similarity": round(cand.similarity, 6),
                "judgment": judgment,
            }
            if error is not None:
                record["judge_error"] = error
            step.candidates.append(record)
            if judgment is True or step.judge is None:
                match = self.matchers.describe(
                    cand.doc, cand.inst, SEMANTIC, cand.similarity, texts[cand.doc]
                )
                if match.kind == "partial":  # too little shared text to call it a copy
                    match.kind = "paraphrase"
                out.append(match)
        return out

    def _mass_records(self, source: str, row_id: str, keys: np.ndarray, text: str) -> list[dict]:
        assert self.matchers.any is not None
        insts, scores = self.matchers.any.pairs_for(keys)
        out = []
        for inst, score in zip(insts, scores, strict=True):
            if score > self.config.threshold:
                match = self.matchers.describe(0, int(inst), "ngram-any", float(score), text)
                out.append(self._record(source, row_id, match))
        return out

    def _record(self, source: str, row_id: str, match: Match, text: str | None = None) -> dict:
        record = {
            "source": source,
            "train_id": row_id,
            "eval": self.corpus.names[self.corpus.eval_of[match.inst]],
            "eval_id": self.corpus.ids[match.inst],
            "method": match.method,
            "score": round(match.score, 6),
            "kind": match.kind,
            "coverage": match.coverage,
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
        mass = self.config.threshold
        for item in self.pending:
            allowed = item.keys[~common[item.keys]]
            insts, scores = self.matchers.any.pairs_for(allowed)
            if len(allowed) < len(item.keys):
                # Mass copies vs boilerplate: n-grams in more than `max_ngram_rows` rows
                # count only where they hold most of an instance (share of its distinct
                # n-grams above `threshold`): an eval prompt pasted into many rows is
                # flagged in each of them, a licence header shared with one is not.
                every, every_scores = self.matchers.any.pairs_for(item.keys)
                extra = (every_scores > mass) & ~np.isin(every, insts)
                insts = np.concatenate((insts, every[extra]))
                scores = np.concatenate((scores, every_scores[extra]))
            for inst, score in zip(insts, scores, strict=True):
                match = self.matchers.describe(0, int(inst), "ngram-any", float(score), item.text)
                item.matches.append(self._record(item.source, item.row_id, match))
            self._settle(item.source, item.row_id, item.row, item.matches, item.text)
        self.pending = []

    def _settle(
        self, source: str, row_id: str, row: dict, records: list[dict], text: str | None
    ) -> None:
        state = self.state
        best: dict[int, int] = {}  # instance -> rank in KINDS of the row's best match
        for record in records:
            inst = record.pop("_inst")
            best[inst] = min(best.get(inst, len(KINDS) - 1), KINDS.index(record["kind"]))
            state.hits[record["method"]][source].add(inst)
            state.match_count += 1
            if self._matches_out is not None:
                self._matches_out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._keep_top(record, inst, row, text)
        for inst, rank in best.items():
            state.inst_sources[inst][source] += 1
            state.inst_kinds[inst][KINDS[rank]] += 1
        if best:
            state.rows_by_kind[KINDS[min(best.values())]] += 1
            state.source_kinds[source][KINDS[min(best.values())]] += 1
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
        kind = record["kind"]
        holder = self.state.top_seen.get((kind, inst))
        if holder is not None and holder != (record["source"], record["train_id"]):
            return  # this instance has an example of this kind from another row
        self._seq += 1
        item = (record["score"], -self._seq)
        heap = self.state.top[kind]
        if len(heap) >= TOP_PAIRS and item <= heap[0][:2]:
            return
        pair = dict(record)
        pair["train_text"] = text if text is not None else row_text(row, self.config.fields)
        pair["eval_text"] = self.corpus.texts[inst]
        pair["_inst"] = inst
        if len(heap) >= TOP_PAIRS:
            dropped = heapq.heapreplace(heap, (*item, pair))[2]
            self.state.top_seen.pop((kind, dropped["_inst"]), None)
        else:
            heapq.heappush(heap, (*item, pair))
        self.state.top_seen[kind, inst] = (record["source"], record["train_id"])

    def top_pairs(self) -> list[dict]:
        """The kept pairs, best first within each kind, kinds in the order of KINDS."""
        out = []
        for kind in KINDS:
            for *_, pair in sorted(self.state.top.get(kind, []), key=lambda t: t[:2], reverse=True):
                out.append({k: v for k, v in pair.items() if k != "_inst"})
        return out

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
            self._removed[source] = self._open_atomic(path)
        return self._removed[source]

    def _close(self, ok: bool) -> None:
        if self._matches_out is not None:
            self._matches_out.close()
        for fh in self._removed.values():
            fh.close()
        for writer in self._kept.values():
            if ok:
                writer.close()
            else:
                writer.abort()
        for target in self._targets:
            if ok:
                target.commit()
            else:
                target.abort()
