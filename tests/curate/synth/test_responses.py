import json

from curate.backends import OpenAIBackend, RequestCache
from curate.backends.mock_server import MockOpenAIServer
from curate.synth import ResponseConfig, synthesize_responses
from curate.synth.answers import agree, answer_of, code_parts
from manifests import validate_row


def record(skill, text, rid, **extra):
    return {
        "id": rid,
        "source": "t",
        "skill": skill,
        "messages": [{"role": "user", "content": text}],
        "metadata": "{}",
        **extra,
    }


def run_responses(answer, tmp_path, records, config):
    with MockOpenAIServer(answer) as srv, RequestCache(tmp_path / "c.jsonl") as cache:
        backend = OpenAIBackend(srv.url, "solver", concurrency=4)
        return synthesize_responses(records, backend, cache, config)


def test_answer_extraction_follows_the_templates():
    assert answer_of("gsm8k", "3 + 4 = 7\n#### 7") == "7"
    assert answer_of("gsm8k", "3 + 4 = 7") is None  # no '####' line: no guess
    assert answer_of("gsm8k", "#### 1,000.50") == "1000.5"
    assert answer_of("math", "so\nFinal answer: $\\frac{3}{4}$.") == "\\frac{3}{4}"
    assert answer_of("math", "no answer line") is None
    text = "```python\ndef f():\n    return 1\n```\nTests:\n```python\nassert f() == 1\n```"
    assert code_parts(text) == ("def f():\n    return 1\n", ["assert f() == 1"])
    assert code_parts("```python\ndef f(): pass\n```") is None


def test_majority_vote_groups_equivalent_answers():
    texts = ["Final answer: 0.5", "Final answer: \\frac{1}{2}", "Final answer: 3"]
    decision = agree("math", texts, min_share=0.6)
    assert decision.ground_truth == "0.5" and decision.chosen == 0
    assert abs(decision.share - 2 / 3) < 1e-9
    assert agree("math", texts, min_share=0.7).reason == "low_agreement"
    assert agree("gsm8k", ["nothing", "still nothing"], 0.5).reason == "no_answer"


def test_responses_make_verified_sft_and_rlvr_rows(tmp_path):
    ifeval_truth = json.dumps(
        {"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]}
    )
    records = [
        record("gsm", "Tom has 3 apples and buys 4. How many?", "g1"),
        record("math", "What is 1/2 + 1/4?", "m1"),
        record("code", "Write add_one(x).", "c1"),
        record("code", "Write broken(x).", "c2"),
        record(
            "precise_if",
            "Describe rain. Use only lowercase.",
            "p1",
            ground_truth=ifeval_truth,
            verifier="ifeval",
        ),
        record(
            "precise_if",
            "Describe snow. Use only lowercase.",
            "p2",
            ground_truth=ifeval_truth,
            verifier="ifeval",
        ),
    ]

    def answer(body):
        text = body["messages"][-1]["content"]
        if "Tom" in text:
            return "3 + 4 = 7\n#### 7"
        if "1/2" in text:
            return "Adding gives 3/4.\nFinal answer: \\frac{3}{4}"
        if "add_one" in text:
            return (
                "```python\ndef add_one(x):\n    return x + 1\n```\n"
                "```python\nassert add_one(1) == 2\n```"
            )
        if "broken" in text:  # its own tests fail: never kept
            return (
                "```python\ndef broken(x):\n    return x\n```\n"
                "```python\nassert broken(1) == 2\n```"
            )
        if "rain" in text:
            return "rain falls softly on the roofs."
        return "Snow Is White."  # breaks the lowercase constraint

    result = run_responses(answer, tmp_path, records, ResponseConfig())
    sft_ids = {json.loads(r["metadata"])["prompt_id"] for r in result.sft}
    assert sft_ids == {"g1", "m1", "c1", "p1"}
    assert result.sft_accounting.removed == {"failed_verification": 2}
    truths = {
        json.loads(r["metadata"])["prompt_id"]: (r["verifier"], r["ground_truth"])
        for r in result.rlvr
    }
    assert truths["g1"] == ("gsm8k", "7")
    assert truths["m1"] == ("math", "\\frac{3}{4}")
    assert truths["c1"] == ("code", json.dumps(["assert add_one(1) == 2"]))
    assert truths["p1"] == truths["p2"] == ("ifeval", ifeval_truth)  # truth known up front
    assert "c2" not in truths
    for row in result.sft:
        validate_row(row, "sft")
        assert json.loads(row["metadata"])["response_model"] == "solver"
    for row in result.rlvr:
        validate_row(row, "rlvr")
    gsm_rlvr = next(r for r in result.rlvr if r["skill"] == "gsm")
    assert gsm_rlvr["messages"][0]["role"] == "system"  # the format rule goes with the prompt
    assert "####" in gsm_rlvr["messages"][0]["content"]


def test_samples_vote_and_disagreement_is_removed(tmp_path):
    records = [record("gsm", "Agreeing question", "a"), record("gsm", "Split question", "s")]

    def answer(body):
        seed = body["seed"]
        if "Agreeing" in body["messages"][-1]["content"]:
            return "#### 12" if seed % 3 else "#### 13"  # mostly 12
        return f"#### {seed % 1000}"  # every sample differs

    config = ResponseConfig(samples=3, min_agreement=0.6, seed=5)
    result = run_responses(answer, tmp_path, records, config)
    assert result.sft_accounting.removed == {"low_agreement": 1}
    assert result.rlvr_accounting.removed == {"low_agreement": 1}
    [rlvr] = result.rlvr
    meta = json.loads(rlvr["metadata"])
    assert meta["response_samples"] == 3 and meta["agreement"] >= 0.6
    assert result.usage.requests == 6


def test_answers_cut_off_at_max_tokens_are_not_kept(tmp_path):
    from curate.backends import SamplingParams

    records = [record("gsm", "Short question", "short"), record("gsm", "Long question", "long")]

    def answer(body):
        if "Long" in body["messages"][-1]["content"]:
            return "step " * 50 + "\n#### 3"
        return "#### 4"

    config = ResponseConfig(params=SamplingParams(temperature=0.7, max_tokens=10))
    result = run_responses(answer, tmp_path, records, config)
    assert result.sft_accounting.removed == {"truncated": 1}
    assert [json.loads(r["metadata"])["prompt_id"] for r in result.sft] == ["short"]
