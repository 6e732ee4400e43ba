"""MinHash LSH near-duplicates, every candidate confirmed by its true Jaccard.

Shingles are word 5-grams of the shared tokenization (a text shorter than 5 tokens is
one shingle, itself), hashed with numpy; rensa's `RMinHash` turns the shingle hashes of
many texts into signatures in one call. Bands and rows are chosen so that a pair at the
threshold becomes a candidate with probability >= 0.995; LSH false positives are then
removed by computing the exact Jaccard of the two shingle sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

import numpy as np
from rensa import RMinHash

from decontam.index import EvalCorpus, HashIndex
from decontam.ngram_methods import Pairs
from decontam.ngrams import ngrams, whole_hashes
from decontam.tokenize import TokenBatch, mix64

_BAND_BASE = np.uint64(0xD6E8FEB86659FD93)


def choose_bands(threshold: float, num_perm: int, recall: float = 0.995) -> tuple[int, int]:
    """(bands, rows): the most rows per band (fewest false candidates) for which a pair
    with Jaccard == threshold becomes a candidate with probability >= recall."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


def shingle_sets(batch: TokenBatch, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique shingle hashes of every text, flat, with int64 offsets (CSR)."""
    grams = ngrams(batch, size)
    lengths = batch.lengths
    short = np.flatnonzero((lengths > 0) & (lengths < size))
    hashes = [grams.hashes, whole_hashes(batch, short)]
    docs = [grams.doc, short]
    flat = np.concatenate(hashes)
    doc = np.concatenate(docs)
    if len(lengths) < 1 << 24:
        # one sort on (doc, top 40 bits of the hash); equal pairs become adjacent
        order = np.argsort((doc.astype(np.uint64) << np.uint64(40)) | (flat >> np.uint64(24)))
    else:
        order = np.lexsort((flat, doc))
    flat, doc = flat[order], doc[order]
    new = np.ones(len(flat), dtype=bool)
    new[1:] = (flat[1:] != flat[:-1]) | (doc[1:] != doc[:-1])
    flat, doc = flat[new], doc[new]
    counts = np.bincount(doc, minlength=len(lengths))
    return flat, np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def signatures(
    flat: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int, chunk: int = 4096
) -> np.ndarray:
    """MinHash signatures (texts x num_perm, uint32) from CSR shingle hashes (rensa),
    `chunk` texts at a time (rensa hands rows back as Python lists)."""
    out = np.zeros((len(offsets) - 1, num_perm), dtype=np.uint32)
    for start in range(0, len(offsets) - 1, chunk):
        bounds = offsets[start : start + chunk + 1]
        matrix = RMinHash.digest_matrix_from_flat_token_hashes(
            flat[bounds[0] : bounds[-1]], (bounds - bounds[0]).astype(np.uint64), num_perm, seed
        )
        out[start : start + len(bounds) - 1] = matrix.to_rows()
    return out


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 per (text, band), salted with the band number: shape texts x bands."""
    out = np.zeros((len(sigs), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            acc = np.full(len(sigs), band + 1, dtype=np.uint64)
            for col in range(band * rows, (band + 1) * rows):
                acc = acc * _BAND_BASE + sigs[:, col].astype(np.uint64)
            out[:, band] = mix64(acc)
    return out


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted unique hash arrays."""
    if not len(a) and not len(b):
        return 0.0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared)


class MinHashMatcher:
    """Near-duplicates between training texts and evaluation instances."""

    method = "minhash"

    def __init__(
        self,
        corpus: EvalCorpus,
        threshold: float = 0.7,
        num_perm: int = 128,
        shingle_size: int = 5,
        seed: int = 1,
    ) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.seed = seed
        self.span_size = shingle_size
        self.bands, self.rows = choose_bands(threshold, num_perm)
        self.inst_flat, self.inst_offsets = shingle_sets(corpus.tokens, shingle_size)
        self.union = HashIndex.key_set(self.inst_flat)
        sigs = signatures(self.inst_flat, self.inst_offsets, num_perm, seed)
        keys = band_keys(sigs, self.bands, self.rows)
        nonempty = np.diff(self.inst_offsets) > 0
        band_inst = np.repeat(np.arange(len(corpus), dtype=np.int64), self.bands)
        mask = np.repeat(nonempty, self.bands)
        self.band_index = HashIndex.build(keys.ravel()[mask], band_inst[mask])

    def _shingles(self, flat: np.ndarray, offsets: np.ndarray, i: int) -> np.ndarray:
        return flat[offsets[i] : offsets[i + 1]]

    def match(self, batch: TokenBatch) -> Pairs:
        flat, offsets = shingle_sets(batch, self.span_size)
        sizes = np.diff(offsets)
        doc_of = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        in_union = self.union.lookup(flat) >= 0
        shared = np.bincount(doc_of[in_union], minlength=len(sizes))
        # J(A, B) >= t needs |A & B| >= t|A|, so at least t|A| of A's shingles in the union
        cand = np.flatnonzero((shared > 0) & (shared >= self.threshold * sizes))
        if not len(cand):
            return Pairs.empty()
        sub_flat = np.concatenate([self._shingles(flat, offsets, d) for d in cand])
        sub_offsets = np.concatenate(([0], np.cumsum(sizes[cand]))).astype(np.int64)
        keys = band_keys(
            signatures(sub_flat, sub_offsets, self.num_perm, self.seed), self.bands, self.rows
        )
        found = self.band_index.lookup(keys.ravel())
        owner = np.repeat(np.arange(len(cand), dtype=np.int64), self.bands)[found >= 0]
        which, inst, _ = self.band_index.postings(found[found >= 0])
        pair_codes = np.unique(owner[which] * len(self.inst_offsets) + inst)
        docs, insts, scores = [], [], []
        for code in pair_codes:
            local, i = divmod(int(code), len(self.inst_offsets))
            score = jaccard(
                self._shingles(sub_flat, sub_offsets, local),
                self._shingles(self.inst_flat, self.inst_offsets, i),
            )
            if score >= self.threshold:
                docs.append(cand[local])
                insts.append(i)
                scores.append(score)
        return Pairs(
            np.asarray(docs, np.int64), np.asarray(insts, np.int64), np.asarray(scores, float)
        )


def _batched(items: Iterable[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def minhash_duplicates(
    items: Iterable[tuple[str, str]],
    *,
    threshold: float = 0.8,
    num_perm: int = 128,
    shingle_size: int = 5,
    seed: int = 1,
    batch_size: int = 4096,
) -> dict[str, str]:
    """Near-duplicates within `items` ((key, text) pairs, streamed).

    Returns {duplicate_key: kept_key}: kept is the first-seen item whose exact shingle
    Jaccard with the duplicate is >= threshold. Items without tokens are never matched.
    """
    bands, rows = choose_bands(threshold, num_perm)
    tables: list[dict[int, list[int]]] = [{} for _ in range(bands)]
    kept_keys: list[str] = []
    kept_shingles: list[np.ndarray] = []
    duplicates: dict[str, str] = {}
    for chunk in _batched(items, batch_size):
        batch = TokenBatch.from_texts([text for _, text in chunk])
        flat, offsets = shingle_sets(batch, shingle_size)
        keys = band_keys(signatures(flat, offsets, num_perm, seed), bands, rows).tolist()
        for local, (key, _) in enumerate(chunk):
            shingles = flat[offsets[local] : offsets[local + 1]]
            if not len(shingles):
                continue
            candidates = sorted(
                {rep for band, k in enumerate(keys[local]) for rep in tables[band].get(k, ())}
            )
            match = next(
                (c for c in candidates if jaccard(shingles, kept_shingles[c]) >= threshold), None
            )
            if match is not None:
                duplicates[key] = kept_keys[match]
                continue
            rep = len(kept_keys)
            kept_keys.append(key)
            kept_shingles.append(shingles)
            for band, k in enumerate(keys[local]):
                tables[band].setdefault(k, []).append(rep)
    return duplicates
