"""The one normalization and tokenization rule that every matching method shares.

Rule (also in docs/decontam.md), applied identically to evaluation and training text:
1. ASCII characters are only lowercased; they are never remapped, so the ASCII part of
   a text tokenizes the same whatever else the text holds.
2. Every non-ASCII character is NFKC-normalized (full-width forms, ligatures and
   compatibility digits become their plain forms) and case-folded, then:
   - format characters (Unicode category Cf: zero-width space/joiners, BOM, soft hyphen,
     bidi marks) are dropped;
   - Unicode dashes become "-", quotes and apostrophes "'", other punctuation, symbols
     and symbols (categories P*, S*: emoji, arrows, math signs), separators (NBSP,
     ideographic space, ...) and controls a space;
   - characters of scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao,
     Khmer, Myanmar, Tibetan, Yi, Bopomofo) become one token each, so coverage counts
     characters there.
3. A token is either a maximal run of word characters (ASCII letters, digits, "_", and
   any other non-ASCII character) or one of the math operators `+ - * / = < > ^ %`,
   each a token on its own. Everything else (white space, other ASCII punctuation)
   separates tokens and is dropped. Numbers are kept exactly as written.

`token_spans` applies the rule one character at a time, keeping offsets into the
original text (for reports); `TokenBatch` applies it to many texts at once with numpy,
hashing every token to a uint64 without a Python loop over tokens. ASCII texts (the
common case) take a fast path: `str.lower` and a byte-class table.
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

# scripts written without spaces between words: one token a character
_NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x31A0, 0x31FF),  # Bopomofo ext, CJK strokes, Katakana ext
    (0x3400, 0x4DBF),  # CJK ext A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA000, 0xA4CF),  # Yi
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3FFFF),  # CJK ext B and beyond
)
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u2e3a\u2e3b"
_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u0060\u00b4\u201c\u201d\u201e\u201f\u2033"


def _no_space(code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in _NO_SPACE_RANGES)


def _map_char(ch: str) -> str:
    """Step 2 of the rule for one already NFKC-normalized, case-folded character."""
    if ch.isascii():
        return ch
    if ch in _DASHES:
        return "-"
    if ch in _QUOTES:
        return "'"
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    if category[0] in "PZS" or category == "Cc":
        return " "
    if _no_space(ord(ch)):
        return f" {ch} "
    return ch


class _UnicodeTable(dict):
    """str.translate table for non-ASCII characters, filled as characters are met."""

    def __missing__(self, code: int) -> str:
        if code == 0x130:  # capital I with dot: "i", not "i" + combining dot
            self[code] = "i"
            return "i"
        ch = chr(code)
        folded = unicodedata.normalize("NFKC", ch).casefold()
        value = "".join(_map_char(c) for c in unicodedata.normalize("NFKC", folded))
        self[code] = value
        return value


_TABLE = _UnicodeTable()
for _code in range(128):  # ASCII: lowercase only (dict.get in C, no __missing__ call)
    _TABLE[_code] = chr(_code).lower()


def normalize_for_tokens(text: str) -> str:
    """Steps 1-2 of the rule (the text the tokens are read from)."""
    if text.isascii():
        return text.lower()
    # NFC first so that decomposed accents compose the way NFKC composes them
    return unicodedata.normalize("NFC", text).translate(_TABLE)


def normalize_text(text: str) -> str:
    """Normalization for exact deduplication: the token rule's text, white space collapsed."""
    return " ".join(normalize_for_tokens(text).split())


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """Tokens of `text` with their character spans `(token, start, end)` in `text`."""
    if text.isascii():
        return [(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text.lower())]
    # normalize one character at a time, remembering where each output character came from
    pieces: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        mapped = ch.lower() if ch.isascii() else _TABLE[ord(ch)]
        pieces.append(mapped)
        origin.extend([index] * len(mapped))
    origin.append(len(text))
    normalized = "".join(pieces)
    out = []
    for m in _TOKEN_RE.finditer(normalized):
        out.append((m.group(), origin[m.start()], origin[m.end() - 1] + 1))
    return out


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
        if joined.isascii():
            data = joined.lower().encode()
            doc_bytes = np.fromiter((len(t) + 1 for t in texts), np.int64, len(texts))
        else:  # only the non-ASCII texts pay for the Unicode rule
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
