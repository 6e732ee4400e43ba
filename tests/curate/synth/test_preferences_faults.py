"""Preference synthesis against a faulty server (429, 500, malformed JSON, bad gzip, slow
answers) and a real kill -9 of `skillmix synth --preferences`, counted on the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from curate.backends import RequestCache
from curate.backends.factory import BackendOptions
from curate.backends.mock_server import (
    JUDGE_OPENING,
    MockOpenAIServer,
    body_key,
    judge_answer,
    template_answer,
)
from curate.backends.openai_http import OpenAIBackend, RetryPolicy
from curate.synth.preferences import PreferenceConfig, synthesize_preferences
from curate.synth.run import run_preference_stage

PROMPTS = 300
FAULTS = ("429", "500", "malformed", "bad_gzip")


def prompt_rows(n: int) -> list[dict]:
    return [
        {
            "id": f"q{i}",
            "source": "t",
            "skill": "chat",
            "messages": [{"role": "user", "content": f"Explain topic number {i} briefly."}],
            "metadata": "{}",
        }
        for i in range(n)
    ]


def unique_answer(body: dict) -> str:
    """Every completion differs (so every judge call differs); the judge answers in both
    rating formats."""
    text = body["messages"][-1]["content"]
    if text.startswith(JUDGE_OPENING):
        return judge_answer(text.split("<answer>", 1)[1])
    return f"answer {body_key(body)}"


def test_faulty_server_loses_nothing_and_asks_nothing_twice(tmp_path):
    injected: dict[str, int] = {}
    slow_keys: list[str] = []
    calls = {"n": 0}

    def fault(server, body):
        calls["n"] += 1
        kind = {1: "429", 3: "500", 5: "malformed", 7: "bad_gzip", 9: "slow"}.get(calls["n"] % 13)
        if kind == "slow":
            slow_keys.append(body_key(body))
        elif kind:
            injected[kind] = injected.get(kind, 0) + 1
        return kind

    retry = RetryPolicy(max_retries=8, base_delay_s=0.001, max_delay_s=0.01)
    with MockOpenAIServer(unique_answer, fault=fault, slow_s=0.05) as server:
        pool = [OpenAIBackend(server.url, m, retry=retry, concurrency=16) for m in ("a", "b")]
        judge = OpenAIBackend(server.url, "judge", retry=retry, concurrency=16)
        with RequestCache(tmp_path / "c.jsonl") as cache:
            result = synthesize_preferences(
                prompt_rows(PROMPTS), pool, judge, cache, PreferenceConfig(samples=1)
            )
        log = server.log
        answers = log.answered + slow_keys  # slow ones are answered, logged apart
        planned = PROMPTS * 2 * 2  # two completions and two judge calls a prompt
        assert len(answers) == len(set(answers)) == planned  # 0 lost, 0 answered twice
        assert set(injected) == set(FAULTS) and slow_keys
        # Every injected fault cost exactly one resend, and nothing else was sent again.
        assert len(log.received) == planned + sum(injected.values())
        assert len(cache) == planned

        acc = result.accounting
        assert acc.rows_in == PROMPTS and acc.balanced()
        assert acc.rows_out == len(result.rows) and set(acc.removed) <= {"tie"}
        assert acc.rows_out > PROMPTS // 2
        assert all(u.failed == 0 for u in result.usage.values())
        retried = sum(u.retries for u in result.usage.values())
        assert retried == sum(injected.values())
        for row in result.rows:
            meta = json.loads(row["metadata"])
            assert sum(meta["chosen_ratings"].values()) > sum(meta["rejected_ratings"].values())

        before = len(log.received)
        with RequestCache(tmp_path / "c.jsonl") as cache:
            again = synthesize_preferences(
                prompt_rows(PROMPTS), pool, judge, cache, PreferenceConfig(samples=1)
            )
        assert len(log.received) == before  # a rerun is answered from the cache alone
        assert again.rows == result.rows


KILL_PROMPTS = 40
ANSWERED_BEFORE_KILL = 100  # past the 80 completions: the kill lands among judge calls


def synth_cmd(out: Path, prompts: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "skillmix",
        "synth",
        str(out),
        "--preferences",
        str(prompts),
        "--model",
        "a",
        "--model",
        f"b@{url}",
        "--judge-model",
        "judge",
        "--base-url",
        url,
        "--concurrency",
        "4",
        "--seed",
        "3",
    ]


def wait_for_lines(path: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and len(path.read_text().splitlines()) >= n):
        assert time.monotonic() < deadline, f"{path} never reached {n} lines"
        time.sleep(0.05)


def test_kill_9_mid_run_then_rerun_asks_nothing_twice(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in prompt_rows(KILL_PROMPTS)))
    total = KILL_PROMPTS * 4

    with MockOpenAIServer(template_answer) as server:  # the run nobody interrupts, in-process
        pool = [BackendOptions(model=m, base_url=server.url) for m in ("a", "b")]
        run_preference_stage(
            prompts,
            tmp_path / "ref.jsonl",
            PreferenceConfig(seed=3),
            pool,
            BackendOptions(model="judge", base_url=server.url),
        )
        assert len(server.log.received) == total
    expected = (tmp_path / "ref.jsonl").read_text()

    out = tmp_path / "pairs.jsonl"
    cache = Path(f"{out}.cache.jsonl")
    with MockOpenAIServer(template_answer) as server:
        server.fault = lambda srv, body: (
            "hang" if len(srv.log.answered) >= ANSWERED_BEFORE_KILL else None
        )
        first = subprocess.Popen(
            synth_cmd(out, prompts, server.url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_lines(cache, ANSWERED_BEFORE_KILL)
            time.sleep(0.2)  # hung requests are in flight now
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        assert first.returncode == -signal.SIGKILL
        assert not out.exists()
        assert len(cache.read_text().splitlines()) == ANSWERED_BEFORE_KILL
        received_first = len(server.log.received)
        assert received_first > ANSWERED_BEFORE_KILL  # some were in flight

        server.fault = None
        second = subprocess.run(
            synth_cmd(out, prompts, server.url), capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 0, second.stderr
        answered = server.log.answered
        assert len(answered) == len(set(answered)) == total
        assert len(server.log.received) - received_first == total - ANSWERED_BEFORE_KILL
    assert out.read_text() == expected  # same pairs as the run nobody interrupted
    summary = json.loads(Path(f"{out}.summary.json").read_text())
    usage = summary["usage"]
    assert sum(u["cached"] for u in usage.values()) == ANSWERED_BEFORE_KILL
    assert sum(u["requests"] for u in usage.values()) == total - ANSWERED_BEFORE_KILL
    assert "preferences: prompts in 40, pairs out" in second.stderr
