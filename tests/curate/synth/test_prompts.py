import json

import pytest

from curate.backends import OpenAIBackend, RequestCache
from curate.backends.mock_server import MockOpenAIServer
from curate.synth import (
    PromptConfig,
    extract_problem,
    load_personas,
    plan_prompt_jobs,
    sample_personas,
    synthesize_prompts,
)

PERSONAS = [f"A person who collects item number {i} and writes about it." for i in range(40)]


def run_prompts(answer, tmp_path, config, personas=PERSONAS):
    with MockOpenAIServer(answer) as srv, RequestCache(tmp_path / "c.jsonl") as cache:
        backend = OpenAIBackend(srv.url, "fake-model", concurrency=4)
        return synthesize_prompts(personas, backend, cache, config, "inline")


def persona_of(body):
    return body["messages"][-1]["content"].split("\n")[1]


def test_builtin_personas_are_shipped_and_distinct():
    personas = load_personas()
    assert len(personas) >= 300 and len(set(personas)) == len(personas)


def test_sampling_is_seeded_and_without_replacement():
    a = sample_personas(PERSONAS, 30, seed=3, salt="math")
    assert len(set(a)) == 30
    assert a == sample_personas(PERSONAS, 30, seed=3, salt="math")
    assert a != sample_personas(PERSONAS, 30, seed=4, salt="math")
    with pytest.raises(ValueError, match="without replacement"):
        sample_personas(PERSONAS, 41, seed=0)


def test_plan_is_deterministic_and_per_skill():
    config = PromptConfig(skills=("math", "code"), per_skill=5, seed=1)
    jobs = plan_prompt_jobs(PERSONAS, config)
    assert [j.request for j in jobs] == [j.request for j in plan_prompt_jobs(PERSONAS, config)]
    assert [j.skill for j in jobs] == ["math"] * 5 + ["code"] * 5
    assert all(j.persona in j.request.messages[0][1] for j in jobs)
    assert "PROBLEM:" in jobs[0].request.messages[0][1]


def test_extract_problem_needs_the_marker():
    assert extract_problem("Here you go.\nPROBLEM: Two trains leave.") == "Two trains leave."
    assert extract_problem("Two trains leave.") is None
    assert extract_problem("PROBLEM:   ") is None


def test_rows_record_persona_template_and_model(tmp_path, server):
    config = PromptConfig(skills=("gsm", "precise_if"), per_skill=4, seed=2)
    with RequestCache(tmp_path / "c.jsonl") as cache:
        backend = OpenAIBackend(server.url, "fake-model")
        result = synthesize_prompts(PERSONAS, backend, cache, config, "inline")
    assert result.accounting.rows_out == 8 and result.accounting.balanced()
    for row in result.rows:
        meta = json.loads(row["metadata"])
        assert meta["persona"] in PERSONAS and meta["prompt_model"] == "fake-model"
        assert meta["template"] == f"{row['skill']}-v1"
        assert row["messages"][0]["role"] == "user"
    precise = [r for r in result.rows if r["skill"] == "precise_if"]
    for row in precise:
        # Stage 1 writes the prompt contract: the known check is lineage in metadata.
        from manifests import validate_row

        validate_row(row, "prompt")
        meta = json.loads(row["metadata"])
        truth = json.loads(meta["ground_truth"])
        assert meta["verifier"] == "ifeval"
        assert 1 <= len(truth["instruction_id_list"]) <= 3
        assert len(truth["kwargs"]) == len(truth["instruction_id_list"])
    assert result.usage.requests == 8


def test_duplicates_missing_markers_and_failures_are_counted(tmp_path):
    def answer(body):
        persona = persona_of(body)
        number = int(persona.split("number ")[1].split()[0])
        if number % 5 == 0:
            return "I forgot the marker."
        if number % 5 == 1:
            return "PROBLEM: How many eggs are in three dozen?"  # the same problem each time
        if number % 5 == 2:  # near duplicates: one word differs in a long problem
            return (
                "PROBLEM: A farmer has a long rectangular field with a fence along the "
                "north side and a river along the south side and wants to plant "
                f"tomatoes in rows spaced evenly apart version {number}"
            )
        return f"PROBLEM: {persona} asks a unique question {number}."

    config = PromptConfig(skills=("math",), per_skill=40, seed=0, minhash_threshold=0.8)
    result = run_prompts(answer, tmp_path, config)
    acc = result.accounting
    assert acc.removed["missing_marker"] == 8
    assert acc.removed["duplicate_exact"] == 7  # 8 identical problems, first one kept
    assert acc.removed["duplicate_near"] == 7
    assert acc.rows_in == 40 and acc.balanced()
    texts = [r["messages"][0]["content"] for r in result.rows]
    assert len(texts) == len(set(texts)) == 18


def test_decontam_drops_prompts_that_match_an_eval_set(tmp_path):
    leaked = (
        "Natalia sold clips to 48 of her friends in April, and then she sold half as "
        "many clips in May. How many clips did Natalia sell altogether in April and May?"
    )
    evals = tmp_path / "gsm8k_test.jsonl"
    evals.write_text(json.dumps({"question": leaked, "answer": "72"}) + "\n")

    def answer(body):
        persona = persona_of(body)
        if "number 3 " in persona:
            return f"PROBLEM: {leaked}"
        return f"PROBLEM: {persona} has a fresh question about {len(persona)} marbles."

    config = PromptConfig(
        skills=("gsm",), per_skill=10, seed=0, decontam=(f"gsm8k={evals}:question",)
    )
    personas = PERSONAS[:10]
    result = run_prompts(answer, tmp_path, config, personas)
    assert result.accounting.removed == {"contaminated": 1}
    assert all(leaked not in r["messages"][0]["content"] for r in result.rows)
    assert result.accounting.rows_out == 9


def test_backend_failures_are_counted_not_dropped_silently(tmp_path):
    from curate.backends import RetryPolicy

    def fault(srv, body):
        return "500" if "number 1 " in persona_of(body) else None

    with (
        MockOpenAIServer(lambda b: f"PROBLEM: {persona_of(b)}", fault=fault) as srv,
        RequestCache(tmp_path / "c.jsonl") as cache,
    ):
        backend = OpenAIBackend(srv.url, "m", retry=RetryPolicy(1, 0.001, 0.01))
        config = PromptConfig(skills=("algebra",), per_skill=5, seed=0)
        result = synthesize_prompts(PERSONAS[:5], backend, cache, config)
    assert result.accounting.removed == {"backend_failed": 1}
    assert result.usage.failed == 1 and result.accounting.rows_out == 4


def test_problems_cut_off_at_max_tokens_are_removed(tmp_path):
    from curate.backends import SamplingParams

    def answer(body):
        persona = persona_of(body)
        if "number 2 " in persona:
            return "PROBLEM: " + "and then " * 40
        return f"PROBLEM: {persona} counts."

    config = PromptConfig(
        skills=("gsm",), per_skill=4, seed=0, params=SamplingParams(temperature=0.9, max_tokens=30)
    )
    result = run_prompts(answer, tmp_path, config, PERSONAS[:4])
    assert result.accounting.removed == {"truncated": 1}
    assert result.accounting.rows_out == 3
