"""Preference stage: rating parser, drop reasons, and a faulty-server run with resume."""

from __future__ import annotations

import hashlib
import json

import pytest

from curate.backends import RequestCache
from curate.backends.mock_server import MockOpenAIServer, body_key
from curate.backends.openai_http import OpenAIBackend, RetryPolicy
from curate.synth.preferences import (
    ASPECTS,
    JUDGE_MARKER,
    PreferenceConfig,
    parse_ratings,
    synthesize_preferences,
)


def test_parse_json_and_rating_lines():
    assert parse_ratings(
        'ok {"helpfulness": 4, "instruction_following": 5, "honesty": 3, "truthfulness": 2} done'
    ) == {"helpfulness": 4.0, "instruction_following": 5.0, "honesty": 3.0, "truthfulness": 2.0}
    lines = (
        "Helpfulness: Rating: 2\nInstruction following: Rating: 3\nHonesty Rating: 4\n"
        "Truthfulness: Rating: 5\n"
    )
    assert parse_ratings(lines)["truthfulness"] == 5.0
    assert parse_ratings(lines)["instruction_following"] == 3.0
    assert parse_ratings("Helpfulness: Rating: 2") is None  # missing aspects: never guessed
    assert (
        parse_ratings(
            '{"helpfulness": 9, "instruction_following": 5, "honesty": 3, "truthfulness": 2}'
        )
        is None
    )  # out of range


def _judge_answer(body: dict) -> str:
    text = body["messages"][-1]["content"]
    if JUDGE_MARKER not in text:
        return f"completion {body_key(body)}"
    answer = text.split("<answer>\n", 1)[1]
    h = int(hashlib.sha256(answer.encode()).hexdigest()[:8], 16)
    if "UNPARSABLE" in answer:
        return "I cannot decide."
    if "TIE" in answer:
        scores = dict.fromkeys(ASPECTS, 3)
    else:
        scores = {a: (h >> (3 * i)) % 5 + 1 for i, a in enumerate(ASPECTS)}
    if h % 2:
        return json.dumps(scores)
    return "\n".join(f"{a.replace('_', ' ').title()}: Rating: {s}" for a, s in scores.items())


def _records(n: int) -> list[dict]:
    return [
        {
            "id": f"p{i}",
            "source": "t",
            "skill": "chat",
            "messages": [{"role": "user", "content": f"question {i}"}],
            "metadata": "{}",
        }
        for i in range(n)
    ]


def test_faulty_server_no_loss_no_duplicates_and_resume(tmp_path):
    calls = {"n": 0}

    def fault(server, body):
        calls["n"] += 1
        return {0: "429", 1: "500", 2: "malformed", 3: "slow", 4: "bad_gzip"}.get(calls["n"] % 11)

    with MockOpenAIServer(_judge_answer, fault=fault, slow_s=0.05) as server:
        retry = RetryPolicy(max_retries=8, base_delay_s=0.001, max_delay_s=0.01)
        pool = [OpenAIBackend(server.url, m, retry=retry, concurrency=8) for m in ("m1", "m2")]
        judge = OpenAIBackend(server.url, "judge", retry=retry, concurrency=8)
        config = PreferenceConfig(samples=2)
        records = _records(200) + _records(5)  # duplicates give one request, one row
        with RequestCache(tmp_path / "c.jsonl") as cache:
            result = synthesize_preferences(records, pool, judge, cache, config)
        answered = server.log.answered
        assert len(answered) == len(set(answered))  # nothing answered twice
        slow = server.log.statuses.get("slow", 0)  # answered late, logged as slow
        assert slow > 0 and server.log.statuses.get("bad_gzip", 0) > 0
        assert len(answered) + slow == 200 * 4 * 2  # 4 completions + 4 judge calls, none lost
        acc = result.accounting
        assert acc.rows_in == 200 and acc.rows_out == len(result.rows) > 100
        assert acc.rows_out + sum(acc.removed.values()) == 200
        for row in result.rows:
            meta = json.loads(row["metadata"])
            assert sum(meta["chosen_ratings"].values()) > sum(meta["rejected_ratings"].values())
        before = len(server.log.received)
        with RequestCache(tmp_path / "c.jsonl") as cache:
            again = synthesize_preferences(records, pool, judge, cache, config)
        assert len(server.log.received) == before  # the rerun asks nothing
        assert again.rows == result.rows


@pytest.mark.parametrize(
    ("texts", "reason"),
    [(["a UNPARSABLE", "b UNPARSABLE"], "judge_unparsed"), (["TIE x", "TIE y"], "tie")],
)
def test_drop_reasons(tmp_path, texts, reason):
    def answer(body):
        text = body["messages"][-1]["content"]
        if JUDGE_MARKER in text:
            return _judge_answer(body)
        return texts.pop(0)

    with MockOpenAIServer(answer) as server:
        pool = [OpenAIBackend(server.url, "m1", concurrency=1)]
        judge = OpenAIBackend(server.url, "judge", concurrency=1)
        with RequestCache(tmp_path / "c.jsonl") as cache:
            result = synthesize_preferences(
                _records(1), pool, judge, cache, PreferenceConfig(samples=2, judge_retries=1)
            )
    assert result.rows == []
    assert result.accounting.removed == {reason: 1}


def test_verifier_pairs_make_no_judge_call(tmp_path):
    answers = iter(["Steps.\n#### 7", "Steps.\n#### 8"])

    def answer(body):
        assert JUDGE_MARKER not in body["messages"][-1]["content"]
        return next(answers)

    record = dict(_records(1)[0], metadata=json.dumps({"verifier": "gsm8k", "ground_truth": "7"}))
    with MockOpenAIServer(answer) as server:
        pool = [OpenAIBackend(server.url, "m1", concurrency=1)]
        with RequestCache(tmp_path / "c.jsonl") as cache:
            result = synthesize_preferences(
                [record], pool, None, cache, PreferenceConfig(samples=2)
            )
    assert len(result.rows) == 1
    assert result.rows[0]["chosen"][-1]["content"].endswith("#### 7")
    assert json.loads(result.rows[0]["metadata"])["pair_method"] == "verifier"


def test_file_stage_reads_prompt_rows_and_fails_on_zero_pairs(tmp_path):
    from curate.backends.factory import BackendOptions
    from curate.synth.run import run_preference_stage

    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in _records(20)))
    with MockOpenAIServer(_judge_answer) as server:
        pool = [BackendOptions(model=m, base_url=server.url) for m in ("m1", "m2")]
        judge = BackendOptions(model="j", base_url=server.url)
        out = tmp_path / "pairs.jsonl"
        summary = run_preference_stage(prompts, out, PreferenceConfig(), pool, judge)
        written = [json.loads(line) for line in out.read_text().splitlines()]
        assert summary["accounting"]["rows_out"] == len(written) > 0
        with pytest.raises(ValueError, match="no preference pairs"):  # one model, one sample
            run_preference_stage(
                prompts, tmp_path / "none.jsonl", PreferenceConfig(), pool[:1], judge
            )
