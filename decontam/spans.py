"""Character spans of the n-grams two texts share, for reports (plain Python, exact)."""

from __future__ import annotations

from decontam.tokenize import token_spans

Span = tuple[int, int]


def _grams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def shared_spans(train_text: str, eval_text: str, n: int) -> tuple[list[Span], list[Span]]:
    """Spans (start, end) in each text covered by an n-gram found in both; an evaluation
    text shorter than n tokens counts as one n-gram of its own length."""
    train, evl = token_spans(train_text), token_spans(eval_text)
    size = min(n, len(evl))
    if size == 0:
        return [], []
    train_words = [t for t, _, _ in train]
    eval_words = [t for t, _, _ in evl]
    eval_grams = set(_grams(eval_words, size))
    train_hits = [i for i, g in enumerate(_grams(train_words, size)) if g in eval_grams]
    shared = {tuple(train_words[i : i + size]) for i in train_hits}
    eval_hits = [i for i, g in enumerate(_grams(eval_words, size)) if g in shared]
    return (
        merge_runs(train, train_hits, size),
        merge_runs(evl, eval_hits, size),
    )


def merge_runs(spans: list[tuple[str, int, int]], starts: list[int], n: int) -> list[Span]:
    """Join the tokens covered by n-grams starting at `starts` into maximal char spans:
    consecutive covered tokens form one span."""
    covered = [False] * len(spans)
    for start in starts:
        for j in range(start, start + n):
            covered[j] = True
    out: list[Span] = []
    previous = False
    for (_, begin, end), hit in zip(spans, covered, strict=True):
        if hit and previous:
            out[-1] = (out[-1][0], end)
        elif hit:
            out.append((begin, end))
        previous = hit
    return out


# `paraphrase`: a semantic match with too little shared text to be `partial` or more
KINDS = ("exact", "near-verbatim", "partial", "paraphrase")
NEAR_VERBATIM = 0.8  # share of the instance's tokens covered


def match_kind(eval_text: str, eval_spans: list[Span]) -> tuple[str, float]:
    """(kind, coverage) of a match from the instance's covered spans: `exact` when one
    span covers every token (the instance appears whole, after normalization),
    `near-verbatim` when at least 80% of its tokens are covered, else `partial`."""
    words = token_spans(eval_text)
    if not words:
        return "partial", 0.0
    covered = sum(any(a <= s and e <= b for a, b in eval_spans) for _, s, e in words)
    coverage = covered / len(words)
    if covered == len(words) and len(eval_spans) == 1:
        return "exact", 1.0
    return ("near-verbatim" if coverage >= NEAR_VERBATIM else "partial"), round(coverage, 6)
