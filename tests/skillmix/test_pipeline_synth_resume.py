"""Killing `skillmix run` during synthesis (against a local model server) and running it
again: nothing answered is asked twice, and the final shards equal an uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from curate.backends.mock_server import MockOpenAIServer, template_answer
from tests.skillmix.pipeline_helpers import write_recipe, write_sources

ANSWERED_BEFORE_KILL = 8


def recipe_for(folder: Path, url: str) -> Path:
    synth = {
        "synth": {
            "skills": ["math", "gsm"],
            "per_skill": 10,
            "as": "persona",
            "backend": {"model": "fake", "base_url": url, "concurrency": 4},
        }
    }
    return write_recipe(folder, [synth, {"mix": {}}], total=60)


def run_cmd(recipe: Path, run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "skillmix", "run", str(recipe), "--run-dir", str(run_dir)]


def shard_hashes(run_dir: Path) -> list[str]:
    manifest = json.loads((run_dir / "01-mix" / "mix" / "manifest.json").read_text())
    return [s["sha256"] for s in manifest["shards"]]


def wait_for_lines(path: Path, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and len(path.read_text().splitlines()) >= n):
        assert time.monotonic() < deadline, f"{path} never reached {n} lines"
        time.sleep(0.05)


def test_kill_during_synthesis_then_resume(tmp_path):
    write_sources(tmp_path, n=40)
    with MockOpenAIServer(template_answer) as server:
        recipe = recipe_for(tmp_path, server.url)
        done = subprocess.run(
            run_cmd(recipe, tmp_path / "uninterrupted"), capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
        expected = shard_hashes(tmp_path / "uninterrupted")
        stage = json.loads((tmp_path / "uninterrupted" / "00-synth" / "stage.json").read_text())
        assert {s["name"] for s in stage["sources"]} >= {"alpaca", "chat", "persona"}

    with MockOpenAIServer(template_answer) as server:
        recipe = recipe_for(tmp_path, server.url)
        server.fault = lambda srv, body: (
            "hang" if len(srv.log.answered) >= ANSWERED_BEFORE_KILL else None
        )
        run_dir = tmp_path / "killed"
        first = subprocess.Popen(
            run_cmd(recipe, run_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_lines(run_dir / "00-synth" / "prompts.jsonl.cache.jsonl", ANSWERED_BEFORE_KILL)
            time.sleep(0.2)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        assert not (run_dir / "00-synth" / "stage.json").exists()
        received_first = len(server.log.received)
        server.fault = None
        second = subprocess.run(
            run_cmd(recipe, run_dir), capture_output=True, text=True, timeout=300
        )
        assert second.returncode == 0, second.stderr[-3000:]
        answered = server.log.answered
        assert len(answered) == len(set(answered)), "an answered request was sent again"
        assert len(server.log.received) > received_first
    assert shard_hashes(run_dir) == expected
