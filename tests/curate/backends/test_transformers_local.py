"""The transformers backend on a tiny random Llama with a BPE tokenizer trained here."""

import pytest

from curate.backends import (
    GenerationRequest,
    RequestCache,
    SamplingParams,
    Usage,
    run_cached,
)
from curate.backends.transformers_local import TransformersBackend, render_prompt
from trainers.tiny_model import tiny_llama, train_tokenizer

CORPUS = [
    "user: how many apples are in the basket? assistant: there are seven apples.",
    "user: solve two plus three. assistant: two plus three is five.",
    "user: write a haiku about rain. assistant: soft rain on the roof.",
    "user: what is the capital of france? assistant: paris is the capital.",
] * 20


@pytest.fixture(scope="module")
def tiny():
    tokenizer = train_tokenizer(CORPUS, vocab_size=300)
    return tiny_llama(tokenizer, kv_heads=4, max_positions=256), tokenizer


def make_requests(n, temperature=1.0, max_tokens=6, seed0=0):
    params = SamplingParams(temperature=temperature, top_p=1.0, max_tokens=max_tokens)
    return [
        GenerationRequest.chat(
            [{"role": "user", "content": f"solve {i} plus three."}], params, seed0 + i
        )
        for i in range(n)
    ]


def generate(backend, reqs):
    out, failed, usage = {}, {}, Usage()
    backend.generate(
        reqs, lambda r, c: out.__setitem__(r, c), lambda r, e: failed.__setitem__(r, e), usage
    )
    return out, failed, usage


def test_batched_generation_answers_every_request(tiny):
    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, name="tiny-llama", batch_size=2, device="cpu")
    reqs = make_requests(5)
    out, failed, usage = generate(backend, reqs)
    assert not failed and set(out) == set(reqs)
    for completion in out.values():
        assert 0 < completion.completion_tokens <= 6 or completion.finish_reason == "stop"
        assert completion.prompt_tokens > 0
    assert usage.requests == 5
    assert usage.completion_tokens == sum(c.completion_tokens for c in out.values())


def test_seeded_sampling_repeats_and_seeds_matter(tiny):
    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, name="tiny-llama", batch_size=3)
    first, _, _ = generate(backend, make_requests(3))
    again, _, _ = generate(backend, make_requests(3))
    assert {r: c.text for r, c in first.items()} == {r: c.text for r, c in again.items()}
    other, _, _ = generate(backend, make_requests(3, seed0=100))
    assert [c.text for c in first.values()] != [c.text for c in other.values()]


def test_greedy_decoding_ignores_the_seed(tiny):
    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, name="tiny-llama", batch_size=1)
    a, _, _ = generate(backend, make_requests(1, temperature=0.0, seed0=1))
    b, _, _ = generate(backend, make_requests(1, temperature=0.0, seed0=2))
    assert next(iter(a.values())).text == next(iter(b.values())).text


def test_runs_behind_the_resumable_cache(tiny, tmp_path):
    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, name="tiny-llama", batch_size=4)
    reqs = make_requests(4)
    with RequestCache(tmp_path / "c.jsonl") as cache:
        first = run_cached(backend, reqs[:2], cache)
    with RequestCache(tmp_path / "c.jsonl") as cache:
        second = run_cached(backend, reqs, cache)
    assert first.usage.requests == 2
    assert second.usage.cached == 2 and second.usage.requests == 2
    for request in reqs[:2]:
        assert second.answer("tiny-llama", request) == first.answer("tiny-llama", request)


def test_chat_template_is_used_when_the_tokenizer_has_one(tiny):
    _, tokenizer = tiny
    messages = [{"role": "user", "content": "hi"}]
    assert render_prompt(tokenizer, messages) == "user: hi\nassistant:"
    tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    try:
        assert render_prompt(tokenizer, messages) == "<user>hi<assistant>"
    finally:
        tokenizer.chat_template = None


def test_synth_cli_runs_on_a_local_model_folder(tiny, tmp_path):
    import json

    from click.testing import CliRunner

    from skillmix.cli import main

    model, tokenizer = tiny
    folder = tmp_path / "tiny-llama"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        json.dumps(
            {
                "id": "p1",
                "source": "t",
                "skill": "chat",
                "metadata": "{}",
                "messages": [{"role": "user", "content": "say hi"}],
            }
        )
        + "\n"
    )
    out = tmp_path / "sft.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "synth",
            str(out),
            "--responses",
            str(prompts),
            "--backend",
            "transformers",
            "--model",
            str(folder),
            "--max-tokens",
            "4",
            "--batch-size",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "sft.jsonl.summary.json").read_text())
    assert summary["backend"]["backend"] == "transformers"
    assert summary["usage"]["requests"] == 1 and summary["usage"]["completion_tokens"] == 4
    # A random model never says </s>: its answer is cut at --max-tokens and not kept.
    assert summary["accounting"]["sft"]["removed"] == {"truncated": 1}
    assert out.read_text() == ""
