"""Runs the chosen methods over batches of training texts, in this process or in workers.

Workers are forked after the evaluation index is built, so they share it copy-on-write;
at most two batches per worker are in flight, so memory stays flat however long the
training data is.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from decontam.index import EvalCorpus
from decontam.minhash import MinHashMatcher
from decontam.ngram_methods import AnyMatcher, CoverageMatcher
from decontam.spans import Span, match_kind, shared_spans
from decontam.tokenize import TokenBatch
from manifests.text import TEXT_FIELDS

METHODS = ("ngram", "ngram-any", "minhash")
FIELDS = TEXT_FIELDS  # the text matched: the user turns, or every turn
SEMANTIC = "semantic"  # embedding candidates; needs an encoder, so not part of "all"
ALL = "all"  # the three METHODS
METHOD_NAMES = (*METHODS, SEMANTIC, ALL)  # what a method may be named
T = TypeVar("T")


def expand_methods(method: str | Iterable[str]) -> tuple[str, ...]:
    names = [method] if isinstance(method, str) else list(method)
    out: list[str] = []
    for name in names:
        for part in METHODS if name == ALL else [name]:
            if part not in (*METHODS, SEMANTIC):
                raise ValueError(f"unknown method {part!r}; choose from {list(METHOD_NAMES)}")
            if part not in out:
                out.append(part)
    return tuple(out)


@dataclass(frozen=True)
class DecontamConfig:
    """Everything that decides a match; recorded in report.json."""

    methods: tuple[str, ...] = ("ngram",)
    ngram_size: int = 8  # `ngram` (Tülu 3 coverage)
    threshold: float = 0.5  # `ngram`: coverage must exceed this
    any_ngram_size: int = 13  # `ngram-any`
    max_ngram_rows: int | None = 1000  # `ngram-any`: ignore n-grams seen in more rows
    minhash_threshold: float = 0.7  # `minhash`: Jaccard at least this
    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1
    fields: str = "user"
    source_threshold: float = 0.02  # a source is contaminated above this share of an eval
    semantic_top_k: int = 1  # `semantic`: nearest instances kept per training row
    semantic_floor: float = 0.7  # `semantic`: cosine similarity, at least
    semantic_device: str = "cpu"  # `semantic`: where the encoder runs (cpu, cuda, cuda:1)
    batch_size: int = 2048
    workers: int = 1


@dataclass
class Match:
    doc: int  # index of the text in its batch
    inst: int
    method: str
    score: float
    train_spans: list[Span]
    eval_spans: list[Span]
    kind: str = "partial"  # exact / near-verbatim / partial (decontam.spans.match_kind)
    coverage: float = 0.0  # share of the instance's tokens inside shared spans


@dataclass
class BatchResult:
    matches: list[Match] = field(default_factory=list)
    any_hits: dict[int, np.ndarray] = field(default_factory=dict)  # doc -> n-gram keys


def build_matcher(corpus: EvalCorpus, config: DecontamConfig, method: str) -> Any:
    if method == "ngram":
        return CoverageMatcher(corpus, config.ngram_size, config.threshold)
    if method == "ngram-any":
        return AnyMatcher(corpus, config.any_ngram_size, config.max_ngram_rows)
    return MinHashMatcher(
        corpus, config.minhash_threshold, config.num_perm, config.shingle_size, config.seed
    )


class Matchers:
    """The matchers of the configured methods over one evaluation corpus."""

    def __init__(self, corpus: EvalCorpus, config: DecontamConfig) -> None:
        self.corpus = corpus
        self.config = config
        built = {m: build_matcher(corpus, config, m) for m in METHODS if m in config.methods}
        self.coverage = built.get("ngram")
        self.any = built.get("ngram-any")
        self.minhash = built.get("minhash")

    def match_texts(self, texts: list[str]) -> BatchResult:
        batch = TokenBatch.from_texts(texts)
        result = BatchResult()
        for matcher in (self.coverage, self.minhash):
            if matcher is None:
                continue
            pairs = matcher.match(batch)
            for d, i, s in zip(pairs.doc, pairs.inst, pairs.score, strict=True):
                result.matches.append(
                    self.describe(int(d), int(i), matcher.method, float(s), texts[int(d)])
                )
        if self.any is not None:
            doc, key = self.any.row_keys(batch)
            bounds = np.searchsorted(doc, np.arange(len(texts) + 1))
            for d in np.unique(doc):
                result.any_hits[int(d)] = key[bounds[d] : bounds[d + 1]]
        return result

    def describe(self, doc: int, inst: int, method: str, score: float, text: str) -> Match:
        size = {
            "ngram": self.config.ngram_size,
            "ngram-any": self.config.any_ngram_size,
            "minhash": self.config.shingle_size,
            SEMANTIC: self.config.ngram_size,  # spans only show what is shared verbatim
        }[method]
        train_spans, eval_spans = shared_spans(text, self.corpus.texts[inst], size)
        kind, coverage = match_kind(self.corpus.texts[inst], eval_spans)
        return Match(doc, inst, method, score, train_spans, eval_spans, kind, coverage)


_WORKER_MATCHERS: Matchers | None = None


def _work(texts: list[str]) -> BatchResult:
    assert _WORKER_MATCHERS is not None
    return _WORKER_MATCHERS.match_texts(texts)


def run_batches(
    matchers: Matchers, batches: Iterable[tuple[T, list[str]]], workers: int = 1
) -> Iterator[tuple[T, BatchResult]]:
    """(payload, result of `matchers.match_texts(texts)`) for each batch, in input order."""
    if workers <= 1:
        for payload, texts in batches:
            yield payload, matchers.match_texts(texts)
        return
    global _WORKER_MATCHERS
    _WORKER_MATCHERS = matchers
    context = mp.get_context("fork")
    try:
        with context.Pool(workers) as pool:
            pending: deque = deque()
            for payload, texts in batches:
                pending.append((payload, pool.apply_async(_work, (texts,))))
                if len(pending) >= 2 * workers:
                    done, job = pending.popleft()
                    yield done, job.get()
            while pending:
                done, job = pending.popleft()
                yield done, job.get()
    finally:
        _WORKER_MATCHERS = None
