"""Every way an hf:// source fails to load ends in one named line with the fix, through the CLI.

The hub is out of reach here: the loader is replaced by one that raises the exception types
datasets and huggingface_hub raise, with their messages; local dataset folders and
HF_HUB_OFFLINE=1 give real failures from the real loader.
"""

import json
import os
import subprocess
import sys

import datasets
import pytest
from click.testing import CliRunner
from datasets.exceptions import DatasetNotFoundError
from huggingface_hub.errors import OfflineModeIsEnabled

from skillmix.cli import main

CONFIG_MISSING = (
    "Config name is missing.\nPlease pick one among the available configs: ['main', "
    "'socratic']\nExample of usage:\n\t`load_dataset('openai/gsm8k', 'main')`"
)


def _raising(exc):
    def load_dataset(*args, **kwargs):
        raise exc

    return load_dataset


def _one_named_line(result, source):
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert source in lines[0] and "Fix: " in lines[0]
    return lines[0]


def _commands(spec, tmp_path):
    evals = tmp_path / "eval.jsonl"
    evals.write_text(json.dumps({"text": "what is two plus two"}) + "\n")
    return {
        "inspect": ["inspect", spec],
        "convert": ["convert", spec, str(tmp_path / "out.jsonl")],
        "decontam": [
            "decontam",
            "--train",
            spec,
            "--eval",
            f"e={evals}:text",
            "--out",
            str(tmp_path / "d"),
        ],
    }


@pytest.mark.parametrize("command", ["inspect", "convert", "decontam"])
@pytest.mark.parametrize(
    "spec, exc, expected",
    [
        (
            "hf://lukaemon/bbh:boolean_expressions",
            RuntimeError("Dataset scripts are no longer supported, but found bbh.py"),
            ["dataset-script repo", "datasets>=4", "--revision refs/convert/parquet", ".parquet"],
        ),
        (
            "hf://nobody/nothing-here",
            DatasetNotFoundError(
                "Dataset 'nobody/nothing-here' doesn't exist on the Hub or cannot be accessed."
            ),
            ["no such dataset", "hf auth login"],
        ),
        (
            "hf://openai/gsm8k:main",
            ConnectionError("Couldn't reach 'openai/gsm8k' on the Hub (ConnectError)"),
            ["hub is unreachable", "HF_HUB_OFFLINE=1", "local file"],
        ),
        (
            "hf://openai/gsm8k",
            ValueError(CONFIG_MISSING),
            ["needs a config", "hf://openai/gsm8k:CONFIG", "['main', 'socratic']"],
        ),
        (
            "hf://openai/gsm8k:mian",
            ValueError("BuilderConfig 'mian' not found. Available: ['main', 'socratic']"),
            ["no config 'mian'", "['main', 'socratic']"],
        ),
        (
            "hf://openai/gsm8k:main@valid",
            ValueError("Bad split: valid. Available splits: ['train', 'test']"),
            ["no split 'valid'", "hf://openai/gsm8k:main@SPLIT", "['train', 'test']"],
        ),
    ],
)
def test_hub_failure_is_one_named_line(monkeypatch, tmp_path, command, spec, exc, expected):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", _raising(exc))
    result = CliRunner().invoke(main, _commands(spec, tmp_path)[command])
    line = _one_named_line(result, spec)
    for part in expected:
        assert part in line, line


def test_offline_mode_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets, "load_dataset", _raising(OfflineModeIsEnabled("offline")))
    result = CliRunner().invoke(main, ["inspect", "hf://openai/gsm8k:main"])
    line = _one_named_line(result, "hf://openai/gsm8k:main")
    assert "HF_HUB_OFFLINE is set" in line and "not in the local Hugging Face cache" in line


def test_failure_after_some_rows_says_how_far_it_got(monkeypatch):
    def streaming(*args, **kwargs):
        yield {"instruction": "naïve question", "output": "answer"}
        raise ConnectionError("Connection reset by peer")

    monkeypatch.setattr(datasets, "load_dataset", streaming)
    result = CliRunner().invoke(main, ["inspect", "hf://some/data"])
    line = _one_named_line(result, "hf://some/data")
    assert "after 1 rows" in line and "hub is unreachable" in line


def _cli(*args, cwd, env_extra):
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "skillmix", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_real_loader_failures(tmp_path):
    """No stand-ins: HF_HUB_OFFLINE=1 with an uncached repo, a local script folder and a
    missing split of a local folder, through the installed datasets."""
    (tmp_path / "ds").mkdir()
    for split in ("train", "test"):
        (tmp_path / "ds" / f"{split}.jsonl").write_text('{"instruction": "q", "output": "a"}\n')
    (tmp_path / "script").mkdir()
    (tmp_path / "script" / "script.py").write_text("import datasets\n")
    cases = {
        "hf://nobody/nothing-here-xyz": "HF_HUB_OFFLINE is set",
        "hf://script": "dataset-script folder",
        "hf://ds@valid": "no split 'valid'. Fix: hf://ds@SPLIT with one of ['train', 'test']",
    }
    for spec, expected in cases.items():
        done = _cli("inspect", spec, cwd=tmp_path, env_extra={"HF_HUB_OFFLINE": "1"})
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and spec in lines[0] and expected in lines[0], done.stderr
