"""Kill the synthesis process with SIGKILL mid-run, start it again, count the requests."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from curate.synth import load_personas, plan_prompt_jobs
from curate.synth.prompts import PromptConfig

ANSWERED_BEFORE_KILL = 15


def synth_command(out: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "skillmix",
        "synth",
        str(out),
        "--model",
        "fake",
        "--base-url",
        url,
        "--skills",
        "math,gsm",
        "-n",
        "20",
        "--concurrency",
        "4",
        "--seed",
        "7",
        "--api-key-env",
        "FAKE_KEY",
    ]


def wait_for_lines(path: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {n} lines")


def test_kill_9_then_resume_asks_nothing_answered_twice(server, tmp_path):
    out = tmp_path / "prompts.jsonl"
    cache = Path(str(out) + ".cache.jsonl")

    def hang_after_some(srv, body):
        return "hang" if len(srv.log.answered) >= ANSWERED_BEFORE_KILL else None

    server.fault = hang_after_some
    env = {**os.environ, "FAKE_KEY": "sk-test-secret"}
    first = subprocess.Popen(
        synth_command(out, server.url), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for_lines(cache, ANSWERED_BEFORE_KILL)
        time.sleep(0.2)  # the hung requests are in flight now
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    assert not out.exists()  # the output is written only once every answer is in
    assert len(cache.read_text().splitlines()) == ANSWERED_BEFORE_KILL
    received_first = len(server.log.received)
    assert received_first > ANSWERED_BEFORE_KILL  # some were in flight when killed

    server.fault = None
    second = subprocess.run(
        synth_command(out, server.url), env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    assert "from cache 15" in second.stderr

    # Nothing answered was asked twice; only the 25 unanswered were sent again.
    answered = server.log.answered
    assert len(answered) == len(set(answered)) == 40
    assert len(server.log.received) - received_first == 40 - ANSWERED_BEFORE_KILL

    # The output has every planned prompt once: no duplicates, no gaps.
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    config = PromptConfig(skills=("math", "gsm"), per_skill=20, seed=7)
    planned = {(j.skill, j.persona_index) for j in plan_prompt_jobs(load_personas(), config)}
    got = [(r["skill"], json.loads(r["metadata"])["persona_index"]) for r in rows]
    assert len(got) == len(set(got)) == 40 and set(got) == planned

    summary = json.loads(Path(str(out) + ".summary.json").read_text())
    assert summary["usage"]["cached"] == 15 and summary["usage"]["requests"] == 25
    for path in tmp_path.iterdir():  # the key is never written anywhere
        assert "sk-test-secret" not in path.read_text()
    assert "sk-test-secret" not in second.stdout + second.stderr
