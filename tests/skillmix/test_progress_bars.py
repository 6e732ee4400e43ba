"""Progress bars in synth, preferences, decontam, mix, tag and the pipeline's dedup stage.

Bars go to stderr only: forced on (SKILLMIX_PROGRESS=1) each command shows its bar with the
right unit and final count; off, or on a stream that is not a terminal, none; stdout (the
accounting lines scripts parse) is the same either way.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from curate.backends.mock_server import MockOpenAIServer, template_answer
from skillmix.cli import main
from tests.curate.synth.test_preferences_cli import write_prompts
from tests.curate.tagging.test_fasttext_tagger import labeled_rows
from tests.curate.tagging.test_fasttext_tagger import write_jsonl as write_labeled
from tests.mixers.conftest import Workspace
from tests.skillmix.pipeline_helpers import write_recipe, write_sources

BAR_MARKS = re.compile(r"(?:row|req|source|it)/s")


def _workspace(tmp_path: Path) -> Workspace:
    folder = tmp_path / "ws"
    folder.mkdir()
    return Workspace(folder)


def last_draw(stderr: str, desc: str) -> str:
    """The last state a bar named `desc` was drawn in (draws are separated by CR)."""
    draws = [d for d in re.split(r"[\r\n]", stderr) if d.startswith(desc + ":")]
    assert draws, f"no bar {desc!r} in {stderr!r}"
    return draws[-1]


def invoke(args: list[str], progress: str | None):
    env = {"SKILLMIX_PROGRESS": progress} if progress is not None else {}
    if progress is None:
        env["SKILLMIX_PROGRESS"] = ""  # unset: CliRunner's stderr is not a terminal
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def both(make_args, tmp_path: Path):
    """Run a command with bars forced on and off, in twin folders; check stdout agrees."""
    results = {}
    for mode in ("1", "0"):
        folder = tmp_path / f"mode{mode}"
        folder.mkdir()
        results[mode] = invoke(make_args(folder), mode)
        assert results[mode].exit_code == 0, results[mode].output
    on, off = results["1"], results["0"]
    assert on.stdout.replace("mode1", "mode0") == off.stdout
    on_err = on.stderr.replace("mode1", "mode0")
    for line in off.stderr.splitlines():  # log and accounting lines are all still there
        assert line in on_err
    assert not BAR_MARKS.search(off.stderr) and "%|" not in off.stderr
    assert not BAR_MARKS.search(on.stdout)  # never on stdout
    return on.stdout, on.stderr


def test_synth_prompts_bar_counts_requests(tmp_path):
    with MockOpenAIServer(template_answer) as server:
        stdout, stderr = both(
            lambda d: [
                *("synth", str(d / "prompts.jsonl"), "--base-url", server.url),
                *["--model", "fake", "--skills", "gsm,math,code,precise_if", "-n", "3"],
            ],
            tmp_path,
        )
    assert "prompts: rows in 12, out 12" in stdout + stderr  # the accounting line
    final = last_draw(stderr, "synth prompts")
    assert "12/12" in final and "req/s" in final and "retries=0" in final and "tokens=" in final


def test_preferences_bars_count_pool_and_judge_requests(tmp_path):
    prompts = write_prompts(tmp_path / "prompts.jsonl", n=6)
    with MockOpenAIServer(template_answer) as server:
        _, stderr = both(
            lambda d: [
                *("synth", str(d / "pairs.jsonl"), "--preferences", str(prompts)),
                *("--base-url", server.url, "--judge-base-url", server.url),
                *["--model", "m1", "--model", "m2", "--samples", "2", "--judge-model", "j"],
            ],
            tmp_path,
        )
    assert "preferences: m1" in stderr and "preferences: m2" in stderr
    assert "12/12" in last_draw(stderr, "preferences: m1") and "req/s" in stderr
    judged = re.search(r"(\d+)/(\d+)", last_draw(stderr, "preferences: judge j"))
    assert judged is not None and judged.group(1) == judged.group(2) != "0"


def test_decontam_bar_counts_rows_scanned(tmp_path):
    pool = tmp_path / "pool.jsonl"
    rows = labeled_rows(30)  # 120 rows, non-matching chatter
    rows[5]["messages"][0]["content"] = "Ünïcode prompt — with a dash and 数字"
    write_labeled(pool, rows)
    _, stderr = both(
        lambda d: ["decontam", "--train", str(pool), "--eval", "humaneval", "--out", str(d / "o")],
        tmp_path,
    )
    final = last_draw(stderr, "decontam: scan")
    assert "120row" in final and "flagged=0" in final


def test_mix_bars_count_sources_staged_and_rows_written(tmp_path):
    recipe = _workspace(tmp_path).standard()  # 3 sources, 50 rows out in 4 shards
    stdout, stderr = both(lambda d: ["mix", str(recipe), "--out", str(d / "out")], tmp_path)
    assert "wrote 50 rows in 4 shard(s)" in stdout
    assert "rows in 95, out 50" in stdout + stderr  # the accounting line
    staged = last_draw(stderr, "mix: stage")
    assert "3/3" in staged and "rows=95" in staged and "source/s" in staged
    written = last_draw(stderr, "mix: write")
    assert "50/50" in written and "row/s" in written


def test_tag_train_and_apply_bars(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    write_labeled(labeled, labeled_rows(60))
    pool = tmp_path / "pool.jsonl"
    write_labeled(pool, labeled_rows(3, seed=4))
    stdout, stderr = both(
        lambda d: [
            "tag",
            "train",
            str(labeled),
            str(d / "t.bin"),
            "--epoch",
            "5",
            "--bucket",
            "10000",
        ],
        tmp_path,
    )
    assert "precision" in stdout
    assert "240row" in last_draw(stderr, "tag train: read")
    apply_dir = tmp_path / "apply"
    apply_dir.mkdir()
    model = tmp_path / "mode1" / "t.bin"
    _, stderr = both(
        lambda d: ["tag", "apply", str(model), str(pool), str(d / "out.jsonl")], apply_dir
    )
    assert "12row" in last_draw(stderr, "tag: apply")


def test_no_bars_when_not_forced_and_stderr_is_not_a_terminal(tmp_path):
    recipe = _workspace(tmp_path).standard()
    result = invoke(["mix", str(recipe), "--out", str(tmp_path / "out")], None)
    assert result.exit_code == 0 and "rows in 95, out 50" in result.output
    assert result.stderr == "" or not BAR_MARKS.search(result.stderr)


def _run_pipeline(folder: Path, progress: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    env.pop("SKILLMIX_PROGRESS", None)
    if progress is not None:
        env["SKILLMIX_PROGRESS"] = progress
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from skillmix.cli import main; main()",
            "run",
            str(folder / "recipe.yaml"),
            "--run-dir",
            str(folder / "run"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_pipeline_dedup_stage_bars_in_a_real_process(tmp_path):
    outs = {}
    for mode in ("1", "0", None):
        folder = tmp_path / f"p{mode}"
        write_sources(folder)
        write_recipe(folder, [{"dedup": {"exact": True, "minhash": {"threshold": 0.8}}}])
        proc = _run_pipeline(folder, mode)
        assert proc.returncode == 0, proc.stderr
        outs[mode] = proc
    on = outs["1"].stderr
    assert "2/2" in last_draw(on, "dedup sft: stage") and "source/s" in on
    near = re.search(r"(\d+)/(\d+)", last_draw(on, "dedup sft: near"))
    assert near is not None and near.group(1) == near.group(2) != "0"
    for quiet in (outs["0"], outs[None]):  # forced off, and a pipe (not a terminal)
        assert "dedup sft: stage" not in quiet.stderr and not BAR_MARKS.search(quiet.stderr)
    assert outs["1"].stdout.replace("/p1/", "/p0/") == outs["0"].stdout
