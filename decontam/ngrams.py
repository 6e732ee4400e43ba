"""Word n-gram hashes over token hashes, vectorized with numpy.

The hash of the n-gram starting at token i is a polynomial in the n token hashes
(modulo 2**64), finished with splitmix64 and salted with n so that n-grams of different
sizes never share a value by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decontam.tokenize import TokenBatch, mix64

_NGRAM_BASE = np.uint64(0x9E3779B97F4A7C15)


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
        return mix64(acc + np.uint64(n))


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
