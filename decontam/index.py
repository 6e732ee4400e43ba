"""In-memory indexes over the evaluation instances: uint64 hashes -> instances.

`HashIndex` holds sorted unique keys, a bitmap on their top bits that rejects most
misses without a binary search, and CSR postings (instance, multiplicity) per key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decontam.evalsets import EvalSet
from decontam.tokenize import TokenBatch


@dataclass
class Bitmap:
    """A one-hash Bloom filter over uint64 keys, indexed by a key's top bits: one bool a
    slot up to 2**22 slots (one gather to test), packed bits above that."""

    bits: np.ndarray  # bool, or uint8 packed
    width: int  # log2 of the number of slots

    @classmethod
    def build(cls, keys: np.ndarray, bits_per_key: int = 16, min_width: int = 20) -> Bitmap:
        """At least `bits_per_key` bits a key (a miss passes with p <= 1/bits_per_key) and
        2**min_width bits (128 KiB: small enough to stay in cache)."""
        width = min(max(int(len(keys) * bits_per_key).bit_length(), min_width), 30)
        flags = np.zeros(1 << width, dtype=bool)
        flags[(keys >> np.uint64(64 - width)).astype(np.intp)] = True
        return cls(flags if width <= 22 else np.packbits(flags, bitorder="little"), width)

    def maybe(self, hashes: np.ndarray) -> np.ndarray:
        """False where a hash is certainly not a key."""
        top = (hashes >> np.uint64(64 - self.width)).astype(np.intp)
        if self.bits.dtype == bool:
            return self.bits[top]
        return (self.bits[top >> 3] & _BIT[top & 7]) > 0


_BIT = np.left_shift(1, np.arange(8)).astype(np.uint8)


@dataclass
class HashIndex:
    keys: np.ndarray  # sorted unique uint64
    post_offsets: np.ndarray  # int64, len(keys) + 1
    post_inst: np.ndarray  # int32 instance of each posting
    post_mult: np.ndarray  # int32 how often the key occurs in that instance
    bitmap: Bitmap
    buckets: np.ndarray  # int32: keys with top `bucket_bits` bits == p are keys[b[p]:b[p+1]]
    bucket_bits: int

    @classmethod
    def build(cls, hashes: np.ndarray, inst: np.ndarray) -> HashIndex:
        """Index pairs (hash, instance); a repeated pair raises the posting's multiplicity."""
        return cls.build_with_keys(hashes, inst)[0]

    @classmethod
    def key_set(cls, hashes: np.ndarray) -> HashIndex:
        """Membership only (`lookup`), no postings: one sort instead of an argsort."""
        keys = np.sort(hashes)
        keep = np.ones(len(keys), dtype=bool)
        keep[1:] = keys[1:] != keys[:-1]
        keys = keys[keep]
        empty = np.zeros(0, np.int32)
        return cls(
            keys, np.zeros(1, np.int64), empty, empty, Bitmap.build(keys), *cls._buckets(keys)
        )

    @staticmethod
    def _buckets(keys: np.ndarray) -> tuple[np.ndarray, int]:
        # about one key a bucket, so a lookup reads one or two keys instead of a binary search
        bucket_bits = max(1, min(len(keys).bit_length(), 30))
        buckets = np.searchsorted(
            keys >> np.uint64(64 - bucket_bits), np.arange((1 << bucket_bits) + 1, dtype=np.uint64)
        ).astype(np.int32 if len(keys) < 2**31 else np.int64)
        return buckets, bucket_bits

    @classmethod
    def build_with_keys(cls, hashes: np.ndarray, inst: np.ndarray) -> tuple[HashIndex, np.ndarray]:
        """`build`, also returning the key index of every input hash."""
        order = np.lexsort((inst, hashes))
        hashes, inst = hashes[order], inst[order]
        key_of_input = np.empty(len(hashes), dtype=np.int64)
        changed = np.ones(len(hashes), dtype=bool)
        changed[1:] = hashes[1:] != hashes[:-1]
        key_of_input[order] = np.cumsum(changed) - 1
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
        # about one key a bucket, so a lookup reads one or two keys instead of a binary search
        bucket_bits = max(1, min(len(keys).bit_length(), 30))
        buckets = np.searchsorted(
            keys >> np.uint64(64 - bucket_bits), np.arange((1 << bucket_bits) + 1, dtype=np.uint64)
        ).astype(np.int32 if len(keys) < 2**31 else np.int64)
        index = cls(
            keys,
            offsets,
            pair_inst.astype(np.int32),
            mult.astype(np.int32),
            Bitmap.build(keys),
            buckets,
            bucket_bits,
        )
        return index, key_of_input

    def lookup(self, hashes: np.ndarray, prefilter: Bitmap | None = None) -> np.ndarray:
        """Key index of each hash, or -1 where the hash is not a key. `prefilter`, a
        smaller bitmap over a subset of the keys, replaces the index's own when given."""
        out = np.full(len(hashes), -1, dtype=np.int64)
        if not len(self.keys):
            return out
        active = np.flatnonzero((prefilter or self.bitmap).maybe(hashes))
        needles = hashes[active]
        bucket = (needles >> np.uint64(64 - self.bucket_bits)).astype(np.intp)
        position, end = self.buckets[bucket], self.buckets[bucket + 1]
        while len(active):  # step through the buckets, dropping needles found or exhausted
            inside = position < end
            active, needles = active[inside], needles[inside]
            position, end = position[inside], end[inside]
            hit = self.keys[position] == needles
            out[active[hit]] = position[hit]
            miss = ~hit
            active, needles = active[miss], needles[miss]
            position, end = position[miss] + 1, end[miss]
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
