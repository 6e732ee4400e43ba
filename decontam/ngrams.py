"""Word n-gram hashes over token hashes, vectorized with numpy.

The hash of the n-gram starting at token i is a polynomial in the n token hashes
(modulo 2**64) plus a salt for n. Token hashes are already well mixed 64-bit values
(splitmix64), so the polynomial of n of them is too, and needs no finalizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decontam.tokenize import TokenBatch

_NGRAM_BASE = np.uint64(0x9E3779B97F4A7C15)


def _salt(n: int) -> np.uint64:
    return np.uint64((n * 0xD1B54A32D192ED03) % 2**64)


@dataclass
class NGrams:
    """The n-grams of a batch: hash, the text it came from and its first token's position."""

    hashes: np.ndarray  # uint64
    doc: np.ndarray  # int64 index of the text in the batch
    pos: np.ndarray  # int64 token position inside that text


def _polynomial(tokens: np.ndarray, n: int) -> np.ndarray:
    count = len(tokens) - n + 1
    with np.errstate(over="ignore"):
        acc = tokens[:count].copy()
        for j in range(1, n):
            acc *= _NGRAM_BASE
            acc += tokens[j : j + count]
        return acc + _salt(n)


def ngrams(batch: TokenBatch, n: int) -> NGrams:
    """Every n-gram that lies inside one text of the batch."""
    lengths = batch.lengths
    doc_of_token = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    if len(batch.hashes) < n:
        empty = np.zeros(0, np.int64)
        return NGrams(np.zeros(0, np.uint64), empty, empty)
    pos_of_token = np.arange(len(batch.hashes), dtype=np.int64) - batch.offsets[doc_of_token]
    hashes = _polynomial(batch.hashes, n)
    count = len(hashes)
    doc = doc_of_token[:count]
    pos = pos_of_token[:count]
    keep = pos + n <= lengths[doc]
    return NGrams(hashes[keep], doc[keep], pos[keep])


def sequence_ngrams(tokens: np.ndarray, n: int) -> np.ndarray:
    """The n-gram hashes of one token-hash sequence, in order (empty if shorter than n)."""
    if len(tokens) < n:
        return np.zeros(0, np.uint64)
    return _polynomial(tokens, n)


def ngrams_by_size(batch: TokenBatch, sizes: list[int]) -> dict[int, NGrams]:
    """The k-grams of a batch for several k, sharing the polynomial work across sizes.

    Unlike `ngrams`, every token position is kept (so `doc` and `pos` are shared views):
    a k-gram that would run past the end of its text gets hash 0, which the caller
    treats as no n-gram (a real n-gram hashes to 0 with probability 2**-64).
    """
    out: dict[int, NGrams] = {}
    tokens = batch.hashes
    lengths = batch.lengths
    doc_of_token = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    pos_of_token = np.arange(len(tokens), dtype=np.int64) - batch.offsets[doc_of_token]
    room = lengths[doc_of_token] - pos_of_token  # tokens left in the text from here
    wanted = set(sizes)
    acc = tokens.copy()
    with np.errstate(over="ignore"):
        for k in range(1, max(sizes, default=0) + 1):
            if k > len(tokens):
                break
            if k > 1:
                acc = acc[:-1]
                acc *= _NGRAM_BASE
                acc += tokens[k - 1 :]
            if k in wanted:
                hashes = acc + _salt(k)
                hashes[room[: len(acc)] < k] = 0
                out[k] = NGrams(hashes, doc_of_token[: len(acc)], pos_of_token[: len(acc)])
    empty = np.zeros(0, np.int64)
    for k in sizes:
        out.setdefault(k, NGrams(np.zeros(0, np.uint64), empty, empty))
    return out


def whole_hashes(batch: TokenBatch, docs: np.ndarray) -> np.ndarray:
    """For each text in `docs` (each with at least one token), the hash of its whole
    token sequence as one k-gram, k its length: equal to what `ngrams(..., k)` gives."""
    if not len(docs):
        return np.zeros(0, np.uint64)
    starts = batch.offsets[docs]
    counts = batch.offsets[docs + 1] - starts
    first = np.repeat(np.cumsum(counts) - counts, counts)
    flat = np.repeat(starts, counts) + np.arange(counts.sum(), dtype=np.int64) - first
    sub = TokenBatch(batch.hashes[flat], np.concatenate(([0], np.cumsum(counts))))
    out = np.zeros(len(docs), dtype=np.uint64)
    for k, grams in ngrams_by_size(sub, sorted({int(c) for c in counts})).items():
        of_k = np.flatnonzero(counts == k)
        out[of_k] = grams.hashes[sub.offsets[of_k]]
    return out
