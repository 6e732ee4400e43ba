"""The matching as datatrove pipeline steps, for datatrove's Local, Slurm or Ray executors.

    from datatrove.executor import SlurmPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from decontam.steps import DecontamFilter, chat_adapter

    pipeline = [
        JsonlReader("data/", adapter=chat_adapter("user")),
        DecontamFilter(["gsm8k=gsm8k_test.jsonl:question", "humaneval"], method="all",
                       exclusion_writer=JsonlWriter("removed/")),
        JsonlWriter("kept/"),
    ]

Each task builds the evaluation index once (it is small) and matches documents in
batches with the same code as `skillmix decontam`. Across independent tasks there is no
global count of training rows per n-gram, so `ngram-any` here ignores no n-gram
(`max_ngram_rows` is None).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from decontam.engine import DecontamConfig, Matchers, expand_methods
from decontam.evalsets import EvalSet
from decontam.index import EvalCorpus
from manifests import row_text


def chat_adapter(fields: str = "user") -> Callable[..., dict]:
    """A datatrove reader adapter: contract rows -> Document(text = the turns compared)."""

    def adapt(_reader: Any, data: dict, path: str, id_in_file: int | str) -> dict:
        return {
            "text": row_text(data, fields),
            "id": str(data.get("id", f"{path}/{id_in_file}")),
            "metadata": {"source": data.get("source"), "row": json.dumps(data)},
        }

    return adapt


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
        **config: Any,
    ) -> None:
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.evals = list(evals)
        self.config = DecontamConfig(methods=expand_methods(method), **config)
        self._matchers: Matchers | None = None

    def _load(self) -> Matchers:
        if self._matchers is None:
            from decontam.api import load_evals

            corpus = EvalCorpus.from_sets(load_evals(self.evals))
            self._matchers = Matchers(corpus, replace(self.config, max_ngram_rows=None))
        return self._matchers

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
                        matchers.describe(doc, int(inst), "ngram-any", float(score),
                                          batch[doc].text)
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
