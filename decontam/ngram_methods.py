"""The two n-gram methods: Tülu 3 coverage (`ngram`) and any shared n-gram (`ngram-any`).

Both index every evaluation instance's word n-grams; an instance shorter than n tokens
is indexed whole (as one k-gram, k its length) so that it can still be found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decontam.index import Bitmap, EvalCorpus, HashIndex
from decontam.ngrams import ngrams, ngrams_by_size, whole_hashes
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


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy's hash-based unique is slower on large uint64 arrays)."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def _unique_pairs(a: np.ndarray, b: np.ndarray, b_size: int) -> tuple[np.ndarray, np.ndarray]:
    codes = sorted_unique(a.astype(np.int64) * b_size + b)
    return codes // b_size, codes % b_size


class _NGramIndex:
    """Instance n-grams in position order, indexed by hash."""

    def __init__(self, corpus: EvalCorpus, n: int) -> None:
        self.n = n
        self.lengths = corpus.tokens.lengths
        grams = ngrams(corpus.tokens, n)
        short = np.flatnonzero((self.lengths > 0) & (self.lengths < n))
        short_hashes = whole_hashes(corpus.tokens, short)
        # short instances sit after the full ones; order within an instance is positional
        hashes = np.concatenate((grams.hashes, short_hashes))
        inst = np.concatenate((grams.doc, short))
        order = np.argsort(inst, kind="stable")
        hashes, inst = hashes[order], inst[order]
        self.index, self.inst_keys = HashIndex.build_with_keys(hashes, inst)
        counts = np.bincount(inst, minlength=len(self.lengths))
        self.inst_offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.short_sizes = sorted({int(k) for k in self.lengths[short]})
        # one small bitmap per n-gram size, so most lookups stop at a cache-resident test
        size_of = np.where(self.lengths[inst] < n, self.lengths[inst], n)
        self.prefilters = {
            int(k): Bitmap.build(hashes[size_of == k]) for k in [n, *self.short_sizes]
        }

    def row_keys(self, batch: TokenBatch) -> tuple[np.ndarray, np.ndarray]:
        """Unique (text in batch, key) pairs: the indexed n-grams each text contains."""
        docs, keys = [], []
        by_size = ngrams_by_size(batch, [*self.short_sizes, self.n])
        for size, grams in by_size.items():
            found = self.index.lookup(grams.hashes, self.prefilters[size])
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

    def coverages(
        self, pair_doc: np.ndarray, pair_inst: np.ndarray, doc: np.ndarray, key: np.ndarray
    ) -> np.ndarray:
        """Coverage of each instance `pair_inst[i]` by text `pair_doc[i]`, given the sorted
        unique (doc, key) pairs that say which indexed n-grams each text contains."""
        grams = self.grams
        num_keys = max(len(grams.index.keys), 1)
        row_codes = doc * num_keys + key  # sorted, as (doc, key) pairs come sorted
        starts = grams.inst_offsets[pair_inst]
        counts = grams.inst_offsets[pair_inst + 1] - starts
        owner = np.repeat(np.arange(len(pair_inst), dtype=np.int64), counts)
        pos = np.arange(len(owner), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        codes = pair_doc[owner] * num_keys + grams.inst_keys[starts[owner] + pos]
        found = np.minimum(np.searchsorted(row_codes, codes), len(row_codes) - 1)
        hit = row_codes[found] == codes
        owner, pos = owner[hit], pos[hit]
        # union of the intervals [pos, pos + n): each adds up to the next start, at most n
        span = np.full(len(pos), self.n, dtype=np.int64)
        same = owner[1:] == owner[:-1]
        span[:-1][same] = np.minimum(self.n, pos[1:] - pos[:-1])[same]
        covered = np.bincount(owner, weights=span, minlength=len(pair_inst))
        lengths = grams.lengths[pair_inst]
        return np.minimum(covered, lengths) / np.maximum(lengths, 1)

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
        pair_doc, pair_inst = pair_doc[possible], pair_inst[possible]
        scores = self.coverages(pair_doc, pair_inst, doc, key)
        keep = scores > self.threshold
        return Pairs(pair_doc[keep], pair_inst[keep], scores[keep])


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
