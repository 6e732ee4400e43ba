"""In-memory indexes over the evaluation instances: uint64 hashes -> instances.

`HashIndex` holds sorted unique keys, a bitmap on their top bits that rejects most
misses without a binary search, and CSR postings (instance, multiplicity) per key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decontam.evalsets import EvalSet
from decontam.tokenize import TokenBatch

_BITMAP_BITS = 24


@dataclass
class HashIndex:
    keys: np.ndarray  # sorted unique uint64
    post_offsets: np.ndarray  # int64, len(keys) + 1
    post_inst: np.ndarray  # int64 instance of each posting
    post_mult: np.ndarray  # int64 how often the key occurs in that instance
    bitmap: np.ndarray  # bool, 2**_BITMAP_BITS

    @classmethod
    def build(cls, hashes: np.ndarray, inst: np.ndarray) -> HashIndex:
        """Index pairs (hash, instance); a repeated pair raises the posting's multiplicity."""
        order = np.lexsort((inst, hashes))
        hashes, inst = hashes[order], inst[order]
        new_pair = np.ones(len(hashes), dtype=bool)
        new_pair[1:] = (hashes[1:] != hashes[:-1]) | (inst[1:] != inst[:-1])
        pair_start = np.flatnonzero(new_pair)
        mult = np.diff(np.append(pair_start, len(hashes))).astype(np.int64)
        pair_hash, pair_inst = hashes[pair_start], inst[pair_start]
        new_key = np.ones(len(pair_hash), dtype=bool)
        new_key[1:] = pair_hash[1:] != pair_hash[:-1]
        key_start = np.flatnonzero(new_key)
        keys = pair_hash[key_start]
        offsets = np.append(key_start, len(pair_hash)).astype(np.int64)
        bitmap = np.zeros(1 << _BITMAP_BITS, dtype=bool)
        bitmap[keys >> np.uint64(64 - _BITMAP_BITS)] = True
        return cls(keys, offsets, pair_inst.astype(np.int64), mult, bitmap)

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Key index of each hash, or -1 where the hash is not a key."""
        out = np.full(len(hashes), -1, dtype=np.int64)
        if not len(self.keys):
            return out
        maybe = np.flatnonzero(self.bitmap[hashes >> np.uint64(64 - _BITMAP_BITS)])
        if len(maybe):
            found = np.searchsorted(self.keys, hashes[maybe])
            found[found == len(self.keys)] = 0
            hit = self.keys[found] == hashes[maybe]
            out[maybe[hit]] = found[hit]
        return out

    def postings(self, key_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Expand keys to (which input key, instance, multiplicity) triples."""
        starts = self.post_offsets[key_idx]
        counts = self.post_offsets[key_idx + 1] - starts
        owner = np.repeat(np.arange(len(key_idx), dtype=np.int64), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        within = np.arange(len(owner), dtype=np.int64) - first
        flat = np.repeat(starts, counts) + within
        return owner, self.post_inst[flat], self.post_mult[flat]


@dataclass
class EvalCorpus:
    """All instances of all evaluation sets, numbered 0..N-1 across sets."""

    names: list[str]  # evaluation set names, in the order given
    eval_of: np.ndarray  # int64 set index of each instance
    ids: list[str]
    texts: list[str]
    tokens: TokenBatch

    @classmethod
    def from_sets(cls, sets: list[EvalSet]) -> EvalCorpus:
        ids: list[str] = []
        texts: list[str] = []
        eval_of: list[int] = []
        for index, evalset in enumerate(sets):
            ids.extend(evalset.ids)
            texts.extend(evalset.texts)
            eval_of.extend([index] * len(evalset))
        return cls(
            [s.name for s in sets],
            np.asarray(eval_of, dtype=np.int64),
            ids,
            texts,
            TokenBatch.from_texts(texts),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def sizes(self) -> dict[str, int]:
        counts = np.bincount(self.eval_of, minlength=len(self.names))
        return {name: int(c) for name, c in zip(self.names, counts, strict=True)}
