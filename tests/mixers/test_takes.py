from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixers import MixError
from mixers.recipe import parse_recipe
from mixers.takes import draw, exact, largest_remainder, resolve_counts


def recipe(takes: list[dict], **keys):
    sources = [{"name": f"s{i}", "path": f"s{i}.jsonl", "take": t} for i, t in enumerate(takes)]
    return parse_recipe({"name": "t", "kind": "sft", "sources": sources, **keys})


def test_fractions_are_taken_as_written():
    assert exact(0.29) * 100 == 29
    assert resolve_counts(recipe([{"fraction": 0.29}]), [100]) == [29]
    assert resolve_counts(recipe([{"fraction": 2.5}]), [3]) == [7]  # floor of 7.5


def test_weights_share_what_is_left_of_total_exactly():
    r = recipe([{"count": 10}, {"weight": 1}, {"weight": 1}, {"weight": 1}], total=21)
    counts = resolve_counts(r, [10, 100, 100, 100])
    assert counts[0] == 10 and sum(counts) == 21
    assert sorted(counts[1:]) == [3, 4, 4] and counts[1] == 4  # ties go to the earlier source


@given(st.integers(0, 10_000), st.lists(st.integers(1, 50), min_size=1, max_size=8))
def test_largest_remainder_sums_and_stays_within_one_of_the_quota(total, weights):
    parts = largest_remainder(total, [exact(w) for w in weights])
    assert sum(parts) == total
    for part, w in zip(parts, weights, strict=True):
        assert abs(part - total * w / sum(weights)) < 1


def test_impossible_requests_name_the_key():
    with pytest.raises(MixError, match=r"sources\[1\]\.take\.count: needs 50"):
        resolve_counts(recipe([{"fraction": 1.0}, {"count": 50}]), [10, 20])
    assert resolve_counts(
        recipe([{"fraction": 1.0}, {"count": 50, "upsample": True}]), [10, 20]
    ) == [10, 50]
    with pytest.raises(MixError, match=r"sources\[0\]\.take\.weight"):
        resolve_counts(recipe([{"weight": 1}], total=30), [20])
    with pytest.raises(MixError, match="total: 5 rows"):
        resolve_counts(recipe([{"fraction": 1.0}, {"weight": 1}], total=5), [10, 10])
    with pytest.raises(MixError, match="none left"):
        resolve_counts(recipe([{"count": 3, "upsample": True}]), [0])


@pytest.mark.parametrize(
    "take, keys",
    [
        ({"count": 10**12, "upsample": True}, {}),
        ({"weight": 1, "upsample": True}, {"total": 10**15}),
        ({"fraction": 5000.0}, {}),
    ],
)
def test_absurd_upsampling_is_a_named_recipe_error_not_a_numpy_crash(take, keys):
    problem = r"sources\[0\]\.take\.\w+: needs \d+ rows, .* at most 1000 times"
    with pytest.raises(MixError, match=problem):
        resolve_counts(recipe([take], **keys), [40])
    assert resolve_counts(recipe([{"count": 40_000, "upsample": True}]), [40]) == [40_000]


@pytest.mark.parametrize(
    "take, problem",
    [
        ({"count": -3}, "must be at least 0"),
        ({"count": "1e12"}, "expected an integer"),
        ({"count": 1.0e12}, "expected an integer"),
        ({"weight": float("nan")}, "expected a number"),
        ({"fraction": float("inf")}, "expected a number"),
        ({"weight": -1}, "must be in"),
    ],
)
def test_bad_take_values_name_the_key(take, problem):
    from mixers.recipe import RecipeError

    with pytest.raises(RecipeError, match=rf"sources\[0\]\.take\.\w+: {problem}"):
        recipe([take], total=10)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(0, 400), st.integers(0, 2**32 - 1))
def test_draw_is_whole_repeats_plus_a_distinct_remainder(n, count, seed):
    eligible = np.arange(100, 100 + n)
    rows = draw(eligible, count, np.random.default_rng(seed))
    assert len(rows) == count
    times = Counter(rows.tolist())
    repeats, remainder = divmod(count, n)
    assert set(times) <= set(eligible.tolist())
    assert sorted(times.values(), reverse=True) == [repeats + 1] * remainder + [repeats] * (
        n - remainder if repeats else 0
    )
    again = draw(eligible, count, np.random.default_rng(seed))
    assert np.array_equal(rows, again)
