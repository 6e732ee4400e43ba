"""The matching as datatrove pipeline steps, for datatrove's Local, Slurm or Ray executors.

    from datatrove.executor import SlurmPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from decontam.steps import DecontamFilter, contract_adapter, contract_writer_adapter

    pipeline = [
        JsonlReader("data/", adapter=contract_adapter("user")),
        DecontamFilter(["gsm8k=gsm8k_test.jsonl:question", "humaneval"], method="all",
                       exclusion_writer=JsonlWriter("removed/", adapter=contract_writer_adapter),
                       reject_writer=JsonlWriter("rejects/", adapter=contract_writer_adapter)),
        JsonlWriter("kept/", adapter=contract_writer_adapter),
    ]

`contract_adapter` reads every shape the readers take (contract rows, Alpaca, ShareGPT,
prompt/completion, preference pairs, ...) through `manifests.to_contract`, so a
document carries its contract row in `metadata["row"]` and `contract_writer_adapter`
writes that row back unchanged. A record no adapter turns into a row, or a row with no
text in the compared turns, becomes a reject: `DecontamFilter` counts it
(`rejected`, `rejected_<problem>` in datatrove's stats) and hands it to
`reject_writer` with its reason; it is never an empty document (datatrove would skip
those unseen). Per task: documents in = kept + removed + rejected.

Each task builds the evaluation index once (it is small) and matches documents in
batches with the same code as `skillmix decontam`. Across independent tasks there is no
global count of training rows per n-gram, so `ngram-any` here ignores no n-gram
(`max_ngram_rows` is None).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from decontam.engine import SEMANTIC, DecontamConfig, Matchers, expand_methods
from decontam.evalsets import EvalSet
from decontam.index import EvalCorpus
from manifests import detect_kind, row_text, to_contract

REJECT = "skillmix_reject"  # metadata key of a record that could not become a row


def contract_adapter(fields: str = "user") -> Callable[..., dict]:
    """A datatrove reader adapter: any record the readers take -> Document whose text is
    the turns compared and whose metadata holds the contract row (or the reject)."""

    def adapt(_reader: Any, data: dict, path: str, id_in_file: int | str) -> dict:
        row_number = id_in_file + 1 if isinstance(id_in_file, int) else id_in_file
        fallback_id = f"{path}/{id_in_file}"
        try:
            kind = detect_kind(data)
            row = to_contract(data, kind, file=path, row=row_number)  # type: ignore[arg-type]
            text = row_text(row, fields)
            if not text.strip():
                raise ValueError(f"no text in the compared turns (--fields {fields})")
        except (ValueError, TypeError, KeyError) as exc:
            # keep the record as the text so datatrove does not drop it as empty
            problem = str(exc) or type(exc).__name__
            reject = {"file": path, "row": row_number, "problem": problem, "record": data}
            return {
                "text": json.dumps(data, default=str) or "{}",
                "id": fallback_id,
                "metadata": {REJECT: reject},
            }
        return {
            "text": text,
            "id": row["id"],
            "metadata": {"source": row["source"], "kind": kind, "row": row},
        }

    return adapt


chat_adapter = contract_adapter  # the earlier name


def contract_writer_adapter(_writer: Any, doc: Document) -> dict:
    """A datatrove writer adapter: kept documents as their contract row, unchanged;
    removed ones as {"row", "matches", "reason"}; rejects as {"file", "row", "problem",
    "record"}."""
    if REJECT in doc.metadata:
        return doc.metadata[REJECT]
    row = doc.metadata.get("row")
    if row is None:  # a document from another reader: datatrove's own layout
        return {"text": doc.text, "id": doc.id, "metadata": doc.metadata}
    if "decontam" in doc.metadata:
        return {
            "row": row,
            "matches": doc.metadata["decontam"],
            "reason": doc.metadata.get("filter_reason"),
        }
    return row


def _problem_key(problem: str) -> str:
    """A short stat name for a problem: its first words, lowercased."""
    words = re.findall(r"[a-z]+", problem.lower())[:4]
    return "_".join(words) or "unreadable"


class DecontamFilter(BaseFilter):
    """Drops documents that match an evaluation instance; the reason names the eval and
    `doc.metadata["decontam"]` lists the matches (eval, eval_id, method, score, spans)."""

    name = "🧪 skillmix decontam"

    def __init__(
        self,
        evals: Sequence[str | EvalSet],
        method: str = "ngram",
        exclusion_writer: DiskWriter | None = None,
        batch_size: int = 1024,
        reject_writer: DiskWriter | None = None,
        **config: Any,
    ) -> None:
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.reject_writer = reject_writer
        self.evals = list(evals)
        self.config = DecontamConfig(methods=expand_methods(method), **config)
        if SEMANTIC in self.config.methods:
            raise ValueError(
                "the semantic method needs an encoder and a judge; run it with "
                "skillmix decontam --method semantic, not in the datatrove step"
            )
        self._matchers: Matchers | None = None

    def _load(self) -> Matchers:
        if self._matchers is None:
            from decontam.api import load_evals

            corpus = EvalCorpus.from_sets(load_evals(self.evals))
            self._matchers = Matchers(corpus, replace(self.config, max_ngram_rows=None))
        return self._matchers

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Rejects (records the adapter could not read) are counted and set aside before
        matching; everything else goes through datatrove's filter loop."""
        writer = self.reject_writer

        def readable(docs: DocumentsPipeline) -> DocumentsPipeline:
            for doc in docs:
                reject = doc.metadata.get(REJECT)
                if reject is None:
                    yield doc
                    continue
                self.stat_update("rejected")
                self.stat_update(f"rejected_{_problem_key(reject['problem'])}")
                if writer is not None:
                    writer.write(doc, rank)

        with writer if writer is not None else contextlib.nullcontext():
            yield from super().run(readable(data), rank, world_size)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        matchers = self._load()
        result = matchers.match_texts([doc.text for doc in batch])
        found: dict[int, list] = {}
        for match in result.matches:
            found.setdefault(match.doc, []).append(match)
        if matchers.any is not None:
            for doc, keys in result.any_hits.items():
                insts, scores = matchers.any.pairs_for(keys)
                for inst, score in zip(insts, scores, strict=True):
                    found.setdefault(doc, []).append(
                        matchers.describe(
                            doc, int(inst), "ngram-any", float(score), batch[doc].text
                        )
                    )
        corpus = matchers.corpus
        verdicts: list[bool | tuple[bool, str]] = []
        for index, doc in enumerate(batch):
            matches = found.get(index)
            if not matches:
                verdicts.append(True)
                continue
            doc.metadata["decontam"] = [
                {
                    "eval": corpus.names[corpus.eval_of[m.inst]],
                    "eval_id": corpus.ids[m.inst],
                    "method": m.method,
                    "score": round(m.score, 6),
                    "train_spans": m.train_spans,
                    "eval_spans": m.eval_spans,
                }
                for m in matches
            ]
            first = doc.metadata["decontam"][0]
            verdicts.append((False, f"{first['eval']}_{first['method']}"))
        return verdicts
