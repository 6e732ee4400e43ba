"""The one tokenization rule that every matching method shares.

Rule (also in docs/decontam.md):
1. Lowercase with `str.lower()`; U+0130 (capital I with dot) becomes "i" so that every
   character stays one character and offsets keep pointing into the original text.
2. Non-ASCII punctuation, separators and control characters (Unicode categories P*, Z*,
   Cc) become spaces.
3. A token is either a maximal run of word characters (ASCII letters, digits, "_", and
   any other non-ASCII character) or one of the math operators `+ - * / = < > ^ %`,
   each a token on its own. Everything else (white space, other ASCII punctuation)
   separates tokens and is dropped. Numbers are kept exactly as written.

`token_spans` applies the rule with a regular expression (used for reports and as the
reference in tests); `TokenBatch` applies it to many texts at once with numpy, hashing
every token to a uint64 without a Python loop over tokens.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

OPERATORS = "+-*/=<>^%"
_TOKEN_RE = re.compile(r"[0-9a-z_\u0080-\U0010ffff]+|[" + re.escape(OPERATORS) + "]")

# byte classes: 0 separator, 1 word byte, 2 operator
_BYTE_CLASS = np.zeros(256, dtype=np.uint8)
for _c in b"0123456789abcdefghijklmnopqrstuvwxyz_":
    _BYTE_CLASS[_c] = 1
_BYTE_CLASS[0x80:] = 1  # every byte of a UTF-8 multi-byte character
for _c in OPERATORS.encode():
    _BYTE_CLASS[_c] = 2

_BYTE_BASE = np.uint64(0x100000001B3)  # odd, so invertible modulo 2**64
_BYTE_BASE_INV = np.uint64(pow(0x100000001B3, -1, 2**64))


class _UnicodeSeparators(dict):
    """str.translate table, filled as characters are met: non-ASCII punctuation,
    separators and control characters -> space, U+0130 -> "i", anything else unchanged."""

    def __missing__(self, code: int) -> int:
        if code == 0x130:
            value = ord("i")
        elif unicodedata.category(chr(code))[0] in "PZ" or unicodedata.category(chr(code)) == "Cc":
            value = 0x20
        else:
            value = code
        self[code] = value
        return value


_SEPARATORS = _UnicodeSeparators()


def normalize_for_tokens(text: str) -> str:
    """Steps 1-2 of the rule; the result has exactly as many characters as `text`."""
    if text.isascii():
        return text.lower()
    return text.translate(_SEPARATORS).lower()


def normalize_text(text: str) -> str:
    """Normalization for exact deduplication: lowercase, white space collapsed to one space."""
    return " ".join(text.lower().split())


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """Tokens of `text` with their character spans `(token, start, end)` in `text`."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(normalize_for_tokens(text))]


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(normalize_for_tokens(text))


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, elementwise on uint64 (wraps modulo 2**64)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class _Powers:
    """Cached B**i and B**-i modulo 2**64, grown on demand."""

    def __init__(self) -> None:
        self.pow = np.ones(1, dtype=np.uint64)
        self.inv = np.ones(1, dtype=np.uint64)

    def get(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        if size > len(self.pow):
            size = max(size, 2 * len(self.pow))
            with np.errstate(over="ignore"):
                self.pow = np.cumprod(np.full(size, _BYTE_BASE, dtype=np.uint64)) * _BYTE_BASE_INV
                self.inv = np.cumprod(np.full(size, _BYTE_BASE_INV, dtype=np.uint64)) * _BYTE_BASE
        return self.pow, self.inv


_POWERS = _Powers()


@dataclass
class TokenBatch:
    """The tokens of several texts, hashed: `hashes[offsets[d]:offsets[d+1]]` are text d's."""

    hashes: np.ndarray  # uint64, one per token
    offsets: np.ndarray  # int64, len(texts) + 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @classmethod
    def from_texts(cls, texts: list[str], chunk: int = 4096) -> TokenBatch:
        """Tokenize and hash `texts` (in chunks, so temporary arrays stay small)."""
        if len(texts) <= chunk:
            return cls._from_chunk(texts)
        parts = [cls._from_chunk(texts[i : i + chunk]) for i in range(0, len(texts), chunk)]
        starts = np.cumsum([0] + [len(p.hashes) for p in parts[:-1]])
        offsets = [p.offsets[:-1] + s for p, s in zip(parts, starts, strict=True)]
        offsets.append(np.array([starts[-1] + len(parts[-1].hashes)], dtype=np.int64))
        return cls(np.concatenate([p.hashes for p in parts]), np.concatenate(offsets))

    @classmethod
    def _from_chunk(cls, texts: list[str]) -> TokenBatch:
        if not texts:
            return cls(np.zeros(0, np.uint64), np.zeros(1, np.int64))
        joined = "\n".join(texts)
        ascii_only = joined.isascii()
        if ascii_only:
            data = joined.lower().encode()
            doc_bytes = np.fromiter((len(t) + 1 for t in texts), np.int64, len(texts))
        else:
            normalized = [normalize_for_tokens(t).encode() for t in texts]
            data = b"\n".join(normalized)
            doc_bytes = np.fromiter((len(t) + 1 for t in normalized), np.int64, len(texts))
        doc_starts = np.concatenate(([0], np.cumsum(doc_bytes)[:-1]))
        raw = np.frombuffer(data, dtype=np.uint8)
        cls_ = _BYTE_CLASS[raw]
        word = cls_ == 1
        op = cls_ == 2
        prev_word = np.concatenate(([False], word[:-1]))
        next_word = np.concatenate((word[1:], [False]))
        starts = np.flatnonzero((word & ~prev_word) | op)
        ends = np.flatnonzero((word & ~next_word) | op) + 1
        pw, inv = _POWERS.get(len(raw) + 1)
        with np.errstate(over="ignore"):
            prefix = np.zeros(len(raw) + 1, dtype=np.uint64)
            np.cumsum((raw.astype(np.uint64) + np.uint64(1)) * pw[: len(raw)], out=prefix[1:])
            hashes = mix64((prefix[ends] - prefix[starts]) * inv[starts])
        offsets = np.searchsorted(starts, np.append(doc_starts, len(raw))).astype(np.int64)
        return cls(hashes, offsets)
