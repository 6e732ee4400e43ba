import json
import os

import pytest

from curate.backends import (
    GenerationRequest,
    OpenAIBackend,
    RequestCache,
    RetryPolicy,
    SamplingParams,
    Usage,
    run_cached,
)
from curate.backends.mock_server import MockOpenAIServer, echo_answer

FAST_RETRY = RetryPolicy(max_retries=6, base_delay_s=0.01, max_delay_s=0.05)


def requests(n: int, max_tokens: int = 16) -> list[GenerationRequest]:
    params = SamplingParams(temperature=0.5, max_tokens=max_tokens)
    return [
        GenerationRequest.chat([{"role": "user", "content": f"q {i}"}], params, i) for i in range(n)
    ]


def collect(backend, reqs):
    out, failed, usage = {}, {}, Usage()
    backend.generate(
        reqs, lambda r, c: out.__setitem__(r, c), lambda r, e: failed.__setitem__(r, e), usage
    )
    return out, failed, usage


def test_recovers_from_429_500_malformed_and_slow_answers():
    plan = {1: "429", 2: "500", 3: "malformed", 4: "slow", 6: "429", 7: "500"}
    seen = {"n": 0}

    def fault(server, body):
        seen["n"] += 1
        return plan.get(seen["n"])

    with MockOpenAIServer(echo_answer, fault=fault, slow_s=3.0) as srv:
        backend = OpenAIBackend(srv.url, "m", concurrency=4, timeout_s=0.5, retry=FAST_RETRY)
        reqs = requests(20)
        out, failed, usage = collect(backend, reqs)
    assert not failed and len(out) == 20
    for request, completion in out.items():  # every answer belongs to its own request
        assert completion.text == echo_answer(backend.payload(request))
    assert usage.retries == 6
    assert usage.errors == {"http_429": 2, "http_500": 2, "malformed_response": 1, "timeout": 1}
    assert usage.requests == 20 and usage.completion_tokens == 40


def test_gives_up_after_max_retries_and_reports_failure():
    with MockOpenAIServer(fault=lambda s, b: "500") as srv:
        backend = OpenAIBackend(srv.url, "m", retry=RetryPolicy(2, 0.001, 0.01))
        out, failed, usage = collect(backend, requests(2))
    assert not out and len(failed) == 2 and usage.failed == 2
    assert all("gave up after 3 tries" in reason for reason in failed.values())
    assert srv.log.statuses["500"] == 6


def test_client_errors_are_not_retried():
    with MockOpenAIServer() as srv:
        backend = OpenAIBackend(srv.url.replace("/v1", "/nowhere"), "m", retry=FAST_RETRY)
        _out, failed, usage = collect(backend, requests(1))
    assert len(failed) == 1 and "http_404" in next(iter(failed.values()))
    assert usage.retries == 0


def test_backoff_grows_exponentially_with_jitter_and_honors_retry_after():
    import random

    policy = RetryPolicy(max_retries=5, base_delay_s=1.0, max_delay_s=8.0)
    rng = random.Random(0)
    delays = [policy.delay(a, rng) for a in range(5)]
    for attempt, delay in enumerate(delays):
        ceiling = min(8.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert policy.delay(0, rng, retry_after=5.0) >= 5.0
    assert policy.delay(0, rng, retry_after=100.0) <= 8.0


def test_api_key_is_sent_but_never_shown(monkeypatch, tmp_path):
    monkeypatch.setenv("SKILLMIX_TEST_KEY", "sk-very-secret")
    seen = []

    class KeyServer(MockOpenAIServer):
        async def _respond(self, body):
            return await super()._respond(body)

    with KeyServer() as srv:
        backend = OpenAIBackend(srv.url, "m", api_key_env="SKILLMIX_TEST_KEY")
        assert "sk-very-secret" not in repr(backend)
        with RequestCache(tmp_path / "cache.jsonl") as cache:
            run = run_cached(backend, requests(3), cache)
        seen.append(run)
    assert backend._headers["Authorization"] == "Bearer sk-very-secret"
    assert "sk-very-secret" not in (tmp_path / "cache.jsonl").read_text()
    assert "sk-very-secret" not in json.dumps(seen[0].usage.to_dict())


def test_missing_key_variable_is_a_clear_error():
    os.environ.pop("SKILLMIX_ABSENT_KEY", None)
    with pytest.raises(ValueError, match="SKILLMIX_ABSENT_KEY"):
        OpenAIBackend("http://127.0.0.1:1/v1", "m", api_key_env="SKILLMIX_ABSENT_KEY")


def test_run_cached_sends_only_unanswered_and_identical_requests_once(tmp_path):
    with MockOpenAIServer() as srv:
        backend = OpenAIBackend(srv.url, "m", concurrency=3)
        reqs = requests(6)
        with RequestCache(tmp_path / "c.jsonl") as cache:
            first = run_cached(backend, reqs[:4] + reqs[:2], cache)
        assert first.usage.requests == 4 and len(srv.log.received) == 4
        with RequestCache(tmp_path / "c.jsonl") as cache:
            second = run_cached(backend, reqs, cache)
        assert second.usage.cached == 4 and second.usage.requests == 2
        assert len(srv.log.received) == 6
        assert len(set(srv.log.answered)) == len(srv.log.answered)


def test_tokens_per_minute_limit_paces_requests():
    import time

    eight_words = "one two three four five six seven eight"
    with MockOpenAIServer(lambda body: eight_words) as srv:
        # 6000 tokens/min = 100 tokens/s with a 0.1 s burst (10 tokens). Each request
        # uses 2 prompt + 8 completion tokens, so 11 requests need at least 1.0 s.
        backend = OpenAIBackend(
            srv.url, "m", concurrency=8, tokens_per_minute=6000, tpm_burst_s=0.1
        )
        reqs = requests(11, max_tokens=8)
        start = time.monotonic()
        out, failed, usage = collect(backend, reqs)
        elapsed = time.monotonic() - start
    assert len(out) == 11 and not failed
    assert usage.prompt_tokens + usage.completion_tokens == 110
    assert 0.9 <= elapsed < 10


def test_without_a_limit_the_same_requests_are_fast():
    import time

    with MockOpenAIServer(lambda body: "one two three four five six seven eight") as srv:
        backend = OpenAIBackend(srv.url, "m", concurrency=8)
        start = time.monotonic()
        out, _, _ = collect(backend, requests(11, max_tokens=8))
        assert len(out) == 11 and time.monotonic() - start < 0.9


def test_timeout_bounds_the_whole_request_not_each_read():
    """A server that trickles its body one byte per 0.1 s never trips a per-read timeout;
    the per-request timeout still ends the attempt."""
    import asyncio
    import threading

    async def trickle(reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            for _ in range(100):
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.1)
        except (ConnectionError, asyncio.CancelledError):
            pass

    ready, port = threading.Event(), []

    async def serve():
        server = await asyncio.start_server(trickle, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    ready.wait(5)
    backend = OpenAIBackend(
        f"http://127.0.0.1:{port[0]}/v1", "m", timeout_s=0.5, retry=RetryPolicy(1, 0.01, 0.02)
    )
    _, failed, usage = collect(backend, requests(1))
    assert usage.errors == {"timeout": 2} and len(failed) == 1


def test_proxy_variables_switch_to_a_client_that_honors_them(monkeypatch):
    from curate.backends.openai_http import _ClientChannel, _TransportChannel

    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    with MockOpenAIServer() as srv:
        backend = OpenAIBackend(srv.url, "m")
        assert isinstance(backend._channel(), _TransportChannel)
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert isinstance(backend._channel(), _ClientChannel)
        out, failed, _ = collect(backend, requests(3))
        assert len(out) == 3 and not failed  # NO_PROXY honored: straight to the server
        monkeypatch.delenv("NO_PROXY")
        _, failed, usage = collect(
            OpenAIBackend(srv.url, "m", retry=RetryPolicy(1, 0.001, 0.01)), requests(1)
        )
        assert len(failed) == 1 and usage.errors == {"connection_error": 2}  # via the proxy


def test_template_answers_follow_the_synthesis_formats():
    from curate.backends.mock_server import template_answer
    from curate.synth import SKILLS, extract_problem
    from curate.synth.answers import answer_of, code_parts

    persona = {"messages": [{"role": "user", "content": SKILLS["gsm"].prompt_for("A cook.")}]}
    assert extract_problem(template_answer(persona)).startswith("A cook.")

    def solve(skill):
        return template_answer(
            {
                "messages": [
                    {"role": "system", "content": SKILLS[skill].solution_template},
                    {"role": "user", "content": "a problem"},
                ]
            }
        )

    assert answer_of("gsm8k", solve("gsm")) is not None
    assert answer_of("math", solve("math")) is not None
    assert code_parts(solve("code")) is not None
