"""Planted contamination in a pool of unrelated real text: every method finds what it
should and nothing else."""

from __future__ import annotations

import json

import pytest

from decontam import find_contamination

METHODS = ["ngram", "ngram-any", "minhash"]


def _words(text: str) -> list[str]:
    return text.split()


def _plant(pool: list[str], questions: list[str], make_row) -> tuple[list, dict]:
    """Rows of unrelated text plus planted copies; returns rows and, per method, the ids
    that must be flagged (everything else must not be)."""
    rows = [make_row(i, t) for i, t in enumerate(pool)]
    q0, q1, q2, q3, q4 = questions
    planted = {
        "verbatim": q0,
        "case_space": "  ".join(q1.upper().split()),
        "framed_short": f"Solve this: {q2} Thanks!",
        "framed_long": f"{pool[0]}\n\nHere is a problem. {q3}\n\n{pool[1]}",
        # first 75% of the words: coverage ~0.75 > 0.5
        "partial_above": " ".join(_words(q4)[: int(len(_words(q4)) * 0.75)]),
        # first 30% of the words: coverage ~0.3 < 0.5, but longer than 13 tokens
        "partial_below": " ".join(_words(q4)[: int(len(_words(q4)) * 0.3)]),
        # same template, every 5th word changed: no 8-gram, 13-gram or 5-gram survives
        "near_miss": " ".join(w if i % 5 else f"zz{i}" for i, w in enumerate(_words(q0), start=1)),
    }
    for name, text in planted.items():
        rows.append(make_row(0, text, source=name))
    expect = {
        "ngram": {"verbatim", "case_space", "framed_short", "framed_long", "partial_above"},
        "ngram-any": {
            "verbatim",
            "case_space",
            "framed_short",
            "framed_long",
            "partial_above",
            "partial_below",
        },
        "minhash": {"verbatim", "case_space", "framed_short", "partial_above"},
    }
    return rows, expect


@pytest.mark.parametrize("method", METHODS)
def test_planted_contamination(method, pool_texts, gsm_eval, gsm_questions, make_row):
    rows, expect = _plant(pool_texts, gsm_questions, make_row)
    result = find_contamination(rows, [gsm_eval], method=method)
    flagged_sources = {source for source, ids in result.flagged.items() if ids}
    assert flagged_sources == expect[method]
    assert result.report["sources"]["pool"]["flagged"] == 0
    assert result.report["sources"]["pool"]["rows"] == len(pool_texts)


def test_partial_copy_threshold_is_strict(gsm_eval, gsm_questions, make_row):
    words = gsm_questions[0].split()
    half = " ".join(words[: len(words) // 2])
    rows = [make_row(0, half)]
    low = find_contamination(rows, [gsm_eval], method="ngram", threshold=0.3)
    high = find_contamination(rows, [gsm_eval], method="ngram", threshold=0.9)
    assert low.flagged["pool"] == {"pool-0"}
    assert high.flagged["pool"] == set()


def test_assistant_turns_only_with_fields_all(gsm_eval, gsm_questions, make_row):
    rows = [make_row(0, "Give me a word problem.", answer=gsm_questions[2])]
    user = find_contamination(rows, [gsm_eval], method="ngram", fields="user")
    every = find_contamination(rows, [gsm_eval], method="ngram", fields="all")
    assert user.flagged["pool"] == set()
    assert every.flagged["pool"] == {"pool-0"}


def test_numbers_are_kept(gsm_eval, gsm_questions, make_row):
    # the same sentence with other numbers is not a copy (datatrove maps digits to 0)
    changed = gsm_questions[0].replace("48", "73").replace("April", "June").replace("May", "July")
    rows = [make_row(0, changed)]
    result = find_contamination(rows, [gsm_eval], method="ngram-any", any_ngram_size=13)
    assert result.flagged["pool"] == set()


def test_common_ngrams_are_ignored_by_ngram_any(tmp_path, make_row):
    boiler = "please answer the following question with care and show all of your work now"
    path = tmp_path / "e.jsonl"
    record = {"q": f"{boiler}: what is the capital city of a small country"}
    path.write_text(json.dumps(record) + "\n")
    rows = [make_row(i, f"{boiler}: topic {i}") for i in range(30)]
    capped = find_contamination(rows, [f"e={path}:q"], method="ngram-any", max_ngram_rows=10)
    uncapped = find_contamination(rows, [f"e={path}:q"], method="ngram-any", max_ngram_rows=None)
    assert capped.flagged["pool"] == set()
    assert len(uncapped.flagged["pool"]) == 30


def test_short_instances_match_whole(tmp_path, make_row):
    path = tmp_path / "e.jsonl"
    path.write_text('{"q": "Name the largest planet."}\n')
    rows = [make_row(0, "Quick quiz. Name the LARGEST planet!"), make_row(1, "Name the planet.")]
    for method in ("ngram", "ngram-any"):
        result = find_contamination(rows, [f"e={path}:q"], method=method)
        assert result.flagged["pool"] == {"pool-0"}
