"""The recipe's arithmetic: how many rows each source gives, and which ones.

Counts are exact: fractions and weights are computed with `fractions.Fraction` from the
numbers as written (0.29 * 100 is 29, not 28), a fraction's count is floored, and weights
share their rows by largest remainder (ties to the earlier source), so the weighted counts
add up to exactly what is left of `total`. With `tokens`, each weighted source gets
round(its share of the token budget / its mean tokens per row) rows.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from mixers.errors import MixError
from mixers.recipe import Recipe

# A source repeated more times than this is taken for a typo in the recipe (an extra few
# zeros), not a wish: the drawn row indices alone would need 8 bytes per output row.
MAX_UPSAMPLE = 1000


def exact(value: float) -> Fraction:
    """A number as written in the recipe (floats through their shortest repr)."""
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def largest_remainder(total: int, weights: list[Fraction]) -> list[int]:
    """Split `total` into integer parts proportional to `weights`, summing to `total`."""
    whole = sum(weights)
    quotas = [total * w / whole for w in weights]
    parts = [math.floor(q) for q in quotas]
    left = total - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts


def resolve_counts(
    recipe: Recipe, eligible: list[int], mean_tokens: list[float] | None = None
) -> list[int]:
    """Rows to take from each source, given how many rows each has left after cleaning."""
    counts: list[int | None] = []
    for source, n in zip(recipe.sources, eligible, strict=True):
        take = source.take
        if take.mode == "fraction":
            counts.append(math.floor(exact(take.value) * n))
        elif take.mode == "count":
            counts.append(int(take.value))
        else:
            counts.append(None)
    weighted = [i for i, c in enumerate(counts) if c is None]
    if weighted:
        weights = [exact(recipe.sources[i].take.value) for i in weighted]
        if recipe.tokens is not None:
            shares = _token_shares(recipe, counts, weighted, weights, mean_tokens)
        else:
            assert recipe.total is not None
            fixed = sum(c for c in counts if c is not None)
            if fixed > recipe.total:
                raise MixError(
                    f"total: {recipe.total} rows, but the fraction and count takes "
                    f"already give {fixed}"
                )
            shares = largest_remainder(recipe.total - fixed, weights)
        for i, share in zip(weighted, shares, strict=True):
            counts[i] = share
    final = [int(c) for c in counts if c is not None]
    for i, (source, n, count) in enumerate(zip(recipe.sources, eligible, final, strict=True)):
        key = f"sources[{i}].take.{source.take.mode}"
        if count > n and source.take.mode != "fraction" and not source.take.upsample:
            raise MixError(
                f"{key}: needs {count} rows but {source.name} has {n} after cleaning; "
                "set upsample: true to repeat rows"
            )
        if count > 0 and n == 0:
            raise MixError(
                f"{key}: needs {count} rows but {source.name} has none left after cleaning"
            )
        if count > MAX_UPSAMPLE * n:
            raise MixError(
                f"{key}: needs {count} rows, {count / n:.3g} times the {n} rows "
                f"{source.name} has after cleaning; at most {MAX_UPSAMPLE} times"
            )
    return final


def _token_shares(
    recipe: Recipe,
    counts: list[int | None],
    weighted: list[int],
    weights: list[Fraction],
    mean_tokens: list[float] | None,
) -> list[int]:
    if mean_tokens is None:
        raise MixError("tokens: a token budget needs a tokenizer (--tokenizer)")
    assert recipe.tokens is not None
    fixed = sum(c * mean_tokens[i] for i, c in enumerate(counts) if c is not None)
    left = recipe.tokens - fixed
    if left < 0:
        raise MixError(
            f"tokens: {recipe.tokens} tokens, but the fraction and count takes "
            f"already give about {round(fixed)}"
        )
    whole = sum(weights)
    shares = []
    for i, w in zip(weighted, weights, strict=True):
        mean = mean_tokens[i]
        shares.append(0 if mean <= 0 else round(left * float(w / whole) / mean))
    return shares


def draw(eligible: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` row indices out of `eligible`: whole repeats, then a seeded sample without
    replacement for the remainder."""
    n = len(eligible)
    if count == 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    repeats, remainder = divmod(count, n)
    parts = [np.tile(eligible, repeats)] if repeats else []
    if remainder:
        parts.append(np.sort(rng.choice(eligible, size=remainder, replace=False)))
    return np.concatenate(parts).astype(np.int64)
