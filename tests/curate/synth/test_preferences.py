"""Preference stage: both rating formats, every drop reason, verifier pairs, pool checks."""

from __future__ import annotations

import json
import re

import pytest

from curate.backends import RequestCache, SamplingParams
from curate.backends.mock_server import JUDGE_OPENING, MockOpenAIServer, template_answer
from curate.backends.openai_http import OpenAIBackend, RetryPolicy
from curate.synth.preferences import (
    ASPECTS,
    JUDGE_MARKER,
    JUDGE_TEMPLATE,
    PreferenceConfig,
    parse_ratings,
    synthesize_preferences,
)

FAST_RETRY = RetryPolicy(max_retries=2, base_delay_s=0.001, max_delay_s=0.01)


def test_parse_json_object_anywhere_in_the_answer():
    text = (
        'Here you go:\n```json\n{"helpfulness": 4, "instruction_following": 5, '
        '"honesty": 3, "truthfulness": 2.5}\n```'
    )
    assert parse_ratings(text) == {
        "helpfulness": 4.0,
        "instruction_following": 5.0,
        "honesty": 3.0,
        "truthfulness": 2.5,
    }
    # Keys as people write them ("Instruction Following", "instruction-following").
    spaced = '{"Helpfulness": 1, "Instruction Following": 2, "honesty": 3, "Truthfulness": 4}'
    assert parse_ratings(spaced)["instruction_following"] == 2.0
    # A first object that is not a rating is passed over for one that is.
    two = (
        '{"note": "x"} then {"helpfulness": 2, "instruction_following": 2, '
        '"honesty": 2, "truthfulness": 3}'
    )
    assert parse_ratings(two)["truthfulness"] == 3.0


def test_parse_rating_lines_as_ultrafeedback_writes_them():
    lines = (
        "Helpfulness: Rating: 2\nRationale: thin.\nInstruction following: Rating: 3\n"
        "**Honesty** Rating: **4**\nTruthfulness - Rating = 5\n"
    )
    assert parse_ratings(lines) == {
        "helpfulness": 2.0,
        "instruction_following": 3.0,
        "honesty": 4.0,
        "truthfulness": 5.0,
    }


@pytest.mark.parametrize(
    "text",
    [
        "Helpfulness: Rating: 2",  # three aspects missing
        '{"helpfulness": 9, "instruction_following": 5, "honesty": 3, "truthfulness": 2}',
        '{"helpfulness": true, "instruction_following": 5, "honesty": 3, "truthfulness": 2}',
        '{"helpfulness": "4", "instruction_following": 5, "honesty": 3, "truthfulness": 2}',
        "Helpfulness: Rating: 10\nInstruction following: Rating: 3\n"
        "Honesty: Rating: 4\nTruthfulness: Rating: 5",  # 10 is not read as 1
        "Helpfulness: Rating: 0\nInstruction following: Rating: 3\n"
        "Honesty: Rating: 4\nTruthfulness: Rating: 5",
        "I would give it a four overall.",
        "",
    ],
)
def test_unparsable_answers_are_never_guessed(text):
    assert parse_ratings(text) is None


def test_the_mock_judge_answers_the_real_template_in_both_formats():
    assert JUDGE_OPENING == JUDGE_MARKER
    formats = set()
    for i in range(20):
        prompt = JUDGE_TEMPLATE.format(conversation="[user] hi", answer=f"answer {i}")
        reply = template_answer({"messages": [{"role": "user", "content": prompt}]})
        assert parse_ratings(reply) is not None, reply
        formats.add(reply.startswith("{"))
    assert formats == {True, False}


def _record(i: int, **extra) -> dict:
    return {
        "id": f"p{i}",
        "source": "t",
        "skill": "chat",
        "messages": [{"role": "user", "content": f"question {i}"}],
        "metadata": "{}",
        **extra,
    }


def scripted_server(completions: dict[str, list[str]], *, judge_fault=None):
    """Pool model M answers its n-th request with completions[M][n]; the judge reads scores
    from the answer: 'S=a,b,c,d' gives those four, 'UNPARSABLE' gives prose."""
    seen: dict[str, int] = {}

    def answer(body):
        text = body["messages"][-1]["content"]
        if JUDGE_MARKER in text:
            graded = text.split("<answer>\n", 1)[1]
            if "UNPARSABLE" in graded:
                return "It is fine, I suppose."
            scores = re.search(r"S=(\d),(\d),(\d),(\d)", graded).groups()
            return json.dumps(dict(zip(ASPECTS, map(int, scores), strict=True)))
        model = body["model"]
        n = seen.get(model, 0)
        seen[model] = n + 1
        return completions[model][n]

    def fault(server, body):
        if judge_fault and JUDGE_MARKER in body["messages"][-1]["content"]:
            return judge_fault
        return None

    return MockOpenAIServer(answer, fault=fault)


def run_pairs(tmp_path, completions, records=None, judge_fault=None, **config):
    config = {"samples": 2, **config}
    with scripted_server(completions, judge_fault=judge_fault) as server:
        pool = [OpenAIBackend(server.url, m, concurrency=1, retry=FAST_RETRY) for m in completions]
        judge = OpenAIBackend(server.url, "judge", concurrency=1, retry=FAST_RETRY)
        with RequestCache(tmp_path / "c.jsonl") as cache:
            result = synthesize_preferences(
                records or [_record(0)], pool, judge, cache, PreferenceConfig(**config)
            )
        return result, server.log


@pytest.mark.parametrize(
    ("completions", "config", "reason"),
    [
        ({"m1": ["a S=3,3,3,3", "b S=3,3,3,3"]}, {}, "tie"),
        ({"m1": ["a S=4,4,4,4", "b S=4,4,3,4"]}, {"min_margin": 0.5}, "below_margin"),
        ({"m1": ["a UNPARSABLE", "b UNPARSABLE"]}, {"judge_retries": 1}, "judge_unparsed"),
        ({"m1": ["a UNPARSABLE", "b S=5,5,5,5"]}, {"judge_retries": 0}, "judge_unparsed"),
        ({"m1": ["only S=5,5,5,5", "   "]}, {}, "one_usable_completion"),
        ({"m1": [" ", "\n"]}, {}, "no_completion"),
        # Cut off at max_tokens (the mock counts words): unusable unless asked for.
        (
            {"m1": ["w " * 30 + "S=5,5,5,5", "w " * 30 + "S=1,1,1,1"]},
            {"params": SamplingParams(0.8, 1.0, 10)},
            "no_completion",
        ),
    ],
    ids=["tie", "below_margin", "unparsed", "unparsed_one", "one_usable", "none", "truncated"],
)
def test_every_drop_reason_is_counted(tmp_path, completions, config, reason):
    result, _ = run_pairs(tmp_path, completions, **config)
    assert result.rows == []
    assert result.accounting.removed == {reason: 1}
    assert result.accounting.rows_in == 1 and result.accounting.balanced()


def test_unparsable_answers_are_asked_again_with_a_new_seed(tmp_path):
    result, log = run_pairs(tmp_path, {"m1": ["a UNPARSABLE", "b UNPARSABLE"]}, judge_retries=2)
    assert result.accounting.removed == {"judge_unparsed": 1}
    assert result.usage["judge:judge"].requests == 2 * 3  # two answers, three tries each
    assert len(log.answered) == len(set(log.answered)) == 2 + 6


def test_judge_failures_are_their_own_reason_and_not_retried(tmp_path):
    result, log = run_pairs(
        tmp_path, {"m1": ["a S=5,5,5,5", "b S=1,1,1,1"]}, judge_fault="401", judge_retries=3
    )
    assert result.accounting.removed == {"judge_failed": 1}
    assert log.statuses["401"] == 2  # once per answer: a 401 is not retried with a new seed
    assert result.failures == {"judge:judge": {"http_401": 2}}
    assert "judge:judge: http_401 x2" in result.failure_summary()


def test_margin_pairs_and_lineage(tmp_path):
    result, _ = run_pairs(
        tmp_path,
        {"m1": ["a S=5,5,4,5", "b S=2,2,2,2"], "m2": ["c S=1,1,1,1", "d S=5,5,4,5"]},
        min_margin=0.5,
    )
    [row] = result.rows
    meta = json.loads(row["metadata"])
    assert row["chosen"][-1]["content"] == "a S=5,5,4,5"  # the first of the tied best
    assert row["rejected"][-1]["content"] in {"b S=2,2,2,2", "c S=1,1,1,1"}
    assert meta["chosen_model"] == "m1" and meta["pool"] == ["m1", "m2"]
    assert meta["candidates"] == 4 and meta["judge_model"] == "judge"
    assert meta["chosen_ratings"] == {a: (4.0 if a == "honesty" else 5.0) for a in ASPECTS}
    assert len(meta["chosen_request"]) == 64 and len(meta["chosen_judge_request"]) == 64
    assert meta["judge_template"] and meta["prompt_id"] == "p0"
    assert row["chosen"][:-1] == row["rejected"][:-1] == _record(0)["messages"]


def test_rejected_is_drawn_per_prompt_with_the_seed(tmp_path):
    answers = ["best S=5,5,5,5"] + [f"low{i} S=2,2,2,2" for i in range(5)]
    picks = set()
    for seed in range(8):
        result, _ = run_pairs(tmp_path / str(seed), {"m1": list(answers)}, samples=6, seed=seed)
        again, _ = run_pairs(tmp_path / f"{seed}b", {"m1": list(answers)}, samples=6, seed=seed)
        assert result.rows == again.rows  # the same seed draws the same rejected answer
        picks.add(result.rows[0]["rejected"][-1]["content"])
    assert len(picks) > 1  # and different seeds draw different ones


def test_duplicate_prompts_one_request_one_row_and_counted(tmp_path):
    records = [_record(0), _record(0), _record(0)]
    result, log = run_pairs(tmp_path, {"m1": ["a S=5,5,5,5", "b S=1,1,1,1"]}, records)
    assert len(result.rows) == 1
    assert result.accounting.removed == {"duplicate_prompt": 2}
    assert result.accounting.rows_in == 3
    assert len(log.received) == 2 + 2  # two completions, two judge calls


def test_verifier_pairs_make_no_judge_call(tmp_path):
    check = json.dumps({"verifier": "gsm8k", "ground_truth": "7"})
    records = [_record(0, metadata=check), _record(1, verifier="gsm8k", ground_truth="3")]
    completions = {"m1": ["Steps.\n#### 7", "Steps.\n#### 8", "Steps.\n#### 3", "#### 3"]}
    with scripted_server(completions) as server:
        pool = [OpenAIBackend(server.url, "m1", concurrency=1)]
        with RequestCache(tmp_path / "c.jsonl") as cache:  # no judge at all
            result = synthesize_preferences(records, pool, None, cache, PreferenceConfig(samples=2))
        assert len(server.log.received) == 4  # four completions, not one judge call
    [row] = result.rows
    assert row["chosen"][-1]["content"].endswith("#### 7")
    assert row["rejected"][-1]["content"].endswith("#### 8")
    meta = json.loads(row["metadata"])
    assert meta["pair_method"] == "verifier" and meta["verifier"] == "gsm8k"
    assert "judge_model" not in meta
    assert result.accounting.removed == {"no_failing_completion": 1}
    assert result.usage.keys() == {"m1"}  # no judge usage either


def test_no_passing_completion_is_counted(tmp_path):
    check = json.dumps({"verifier": "gsm8k", "ground_truth": "9"})
    with scripted_server({"m1": ["#### 1", "#### 2"]}) as server:
        pool = [OpenAIBackend(server.url, "m1", concurrency=1)]
        with RequestCache(tmp_path / "c.jsonl") as cache:
            result = synthesize_preferences(
                [_record(0, metadata=check)], pool, None, cache, PreferenceConfig(samples=2)
            )
    assert result.accounting.removed == {"no_passing_completion": 1}


def test_a_judge_is_required_before_any_request(tmp_path):
    with scripted_server({"m1": ["a", "b"]}) as server:
        pool = [OpenAIBackend(server.url, "m1", concurrency=1)]
        with RequestCache(tmp_path / "c.jsonl") as cache, pytest.raises(ValueError, match="judge"):
            synthesize_preferences([_record(0)], pool, None, cache, PreferenceConfig())
        assert server.log.received == []


def test_pool_members_need_distinct_names(tmp_path):
    with scripted_server({"m1": ["a", "b"]}) as server:
        pool = [OpenAIBackend(server.url, "m1"), OpenAIBackend(server.url + "/", "m1")]
        judge = OpenAIBackend(server.url, "judge")
        with (
            RequestCache(tmp_path / "c.jsonl") as cache,
            pytest.raises(ValueError, match="distinct"),
        ):
            synthesize_preferences([_record(0)], pool, judge, cache, PreferenceConfig())
        assert server.log.received == []


def test_identical_samples_at_temperature_are_noted_once(tmp_path):
    records = [_record(i) for i in range(3)]
    same = {"m1": ["x S=5,5,5,5"] * 6, "m2": [f"y{i} S=1,1,1,1" for i in range(6)]}
    result, _ = run_pairs(tmp_path, same, records)
    assert len(result.notes) == 1
    assert result.notes[0].startswith("m1: the samples of 3 of 3 prompt(s) are byte-identical")
    greedy, _ = run_pairs(tmp_path / "g", same, records, params=SamplingParams(0.0, 1.0, 64))
    assert greedy.notes == []  # at temperature 0 identical samples are expected
