"""The two n-gram methods: Tülu 3 coverage (`ngram`) and any shared n-gram (`ngram-any`).

Both index every evaluation instance's word n-grams; an instance shorter than n tokens
is indexed whole (as one k-gram, k its length) so that it can still be found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decontam.index import EvalCorpus, HashIndex
from decontam.ngrams import ngrams, sequence_ngrams
from decontam.tokenize import TokenBatch


@dataclass
class Pairs:
    """Matches of one batch: text `doc[i]` of the batch matches instance `inst[i]`."""

    doc: np.ndarray
    inst: np.ndarray
    score: np.ndarray

    @classmethod
    def empty(cls) -> Pairs:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))


def _unique_pairs(a: np.ndarray, b: np.ndarray, b_size: int) -> tuple[np.ndarray, np.ndarray]:
    codes = np.unique(a.astype(np.int64) * b_size + b)
    return codes // b_size, codes % b_size


class _NGramIndex:
    """Instance n-grams in position order, indexed by hash."""

    def __init__(self, corpus: EvalCorpus, n: int) -> None:
        self.n = n
        self.lengths = corpus.tokens.lengths
        grams = ngrams(corpus.tokens, n)
        short = np.flatnonzero((self.lengths > 0) & (self.lengths < n))
        short_hashes = np.array(
            [self._whole(corpus.tokens, i)[0] for i in short], dtype=np.uint64
        ).reshape(-1)
        # short instances sit after the full ones; order within an instance is positional
        hashes = np.concatenate((grams.hashes, short_hashes))
        inst = np.concatenate((grams.doc, short))
        order = np.argsort(inst, kind="stable")
        hashes, inst = hashes[order], inst[order]
        self.index = HashIndex.build(hashes, inst)
        self.inst_keys = self.index.lookup(hashes)
        counts = np.bincount(inst, minlength=len(self.lengths))
        self.inst_offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.short_sizes = sorted({int(k) for k in self.lengths[short]})

    @staticmethod
    def _whole(tokens: TokenBatch, i: int) -> np.ndarray:
        seq = tokens.hashes[tokens.offsets[i] : tokens.offsets[i + 1]]
        return sequence_ngrams(seq, len(seq))

    def row_keys(self, batch: TokenBatch) -> tuple[np.ndarray, np.ndarray]:
        """Unique (text in batch, key) pairs: the indexed n-grams each text contains."""
        docs, keys = [], []
        for size in [self.n, *self.short_sizes]:
            grams = ngrams(batch, size)
            found = self.index.lookup(grams.hashes)
            hit = found >= 0
            docs.append(grams.doc[hit])
            keys.append(found[hit])
        doc = np.concatenate(docs)
        key = np.concatenate(keys)
        return _unique_pairs(doc, key, max(len(self.index.keys), 1))


class CoverageMatcher:
    """Tülu 3: coverage = share of an instance's tokens inside n-grams also in the row.

    A pair is reported when coverage > threshold (strictly).
    """

    method = "ngram"

    def __init__(self, corpus: EvalCorpus, n: int = 8, threshold: float = 0.5) -> None:
        self.n = n
        self.threshold = threshold
        self.grams = _NGramIndex(corpus, n)
        self.span_size = n

    def coverage(self, inst: int, row_keys: np.ndarray) -> float:
        """Coverage of instance `inst` by a row that contains the sorted keys `row_keys`."""
        length = int(self.grams.lengths[inst])
        start, end = self.grams.inst_offsets[inst], self.grams.inst_offsets[inst + 1]
        positions = np.flatnonzero(np.isin(self.grams.inst_keys[start:end], row_keys))
        if length < self.n:
            return 1.0 if len(positions) else 0.0
        cover = np.zeros(length + 1, dtype=np.int64)
        cover[positions] += 1
        cover[positions + self.n] -= 1
        return float(np.count_nonzero(np.cumsum(cover[:length]))) / length

    def match(self, batch: TokenBatch) -> Pairs:
        doc, key = self.grams.row_keys(batch)
        if not len(doc):
            return Pairs.empty()
        owner, inst, mult = self.grams.index.postings(key)
        n_inst = len(self.grams.lengths)
        codes, inverse = np.unique(doc[owner] * n_inst + inst, return_inverse=True)
        positions = np.bincount(inverse, weights=mult)
        pair_doc, pair_inst = codes // n_inst, codes % n_inst
        lengths = self.grams.lengths[pair_inst]
        # m matched positions cover at most m*n tokens: skip pairs that cannot pass
        possible = (positions * self.n > self.threshold * lengths) | (lengths < self.n)
        docs, insts, scores = [], [], []
        doc_bounds = np.searchsorted(doc, np.arange(len(batch.lengths) + 1))
        for d, i in zip(pair_doc[possible], pair_inst[possible], strict=True):
            score = self.coverage(int(i), key[doc_bounds[d] : doc_bounds[d + 1]])
            if score > self.threshold:
                docs.append(d)
                insts.append(i)
                scores.append(score)
        return Pairs(
            np.asarray(docs, np.int64), np.asarray(insts, np.int64), np.asarray(scores, float)
        )


class AnyMatcher:
    """GPT-3 / lm-eval-harness style: any shared n-gram (default 13) flags the row.

    `row_keys` returns raw hits; `pairs_for` turns one row's hits into matches once the
    caller knows which n-grams were too common (seen in more than `max_rows` rows).
    """

    method = "ngram-any"

    def __init__(self, corpus: EvalCorpus, n: int = 13, max_rows: int | None = 1000) -> None:
        self.n = n
        self.max_rows = max_rows
        self.grams = _NGramIndex(corpus, n)
        self.span_size = n
        self.inst_distinct = np.bincount(
            self.grams.index.post_inst, minlength=len(self.grams.lengths)
        )

    @property
    def num_keys(self) -> int:
        return len(self.grams.index.keys)

    def row_keys(self, batch: TokenBatch) -> tuple[np.ndarray, np.ndarray]:
        return self.grams.row_keys(batch)

    def pairs_for(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(instances, score) for a row holding `keys`; score = share of the instance's
        distinct n-grams found in the row."""
        if not len(keys):
            return np.zeros(0, np.int64), np.zeros(0, float)
        _, inst, _ = self.grams.index.postings(keys)
        insts, shared = np.unique(inst, return_counts=True)
        return insts, shared / self.inst_distinct[insts]
