"""decontam's argument checks: combinations that cannot work are a UsageError before any
work, and the CLI shows them as usage errors (exit 2) naming the options."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from decontam.api import check_arguments, decontaminate_files
from manifests.errors import UsageError
from skillmix.cli import main


@pytest.mark.parametrize(
    ("evals", "options", "needle"),
    [
        ([], {}, "give --eval"),
        (["gsm8k"], {"method": ["semantic"]}, "needs --encoder"),
        (["gsm8k"], {"method": ["ngram", "semantic"]}, "needs --encoder"),
        (["gsm8k"], {"method": ["all"], "encoder": "enc"}, "semantic only"),
        (["gsm8k"], {"method": "ngram", "judge": lambda pairs: []}, "semantic only"),
    ],
)
def test_combinations_that_cannot_work(evals, options, needle):
    with pytest.raises(UsageError, match=needle):
        check_arguments(evals, **options)


@pytest.mark.parametrize(
    ("evals", "options"),
    [
        (["gsm8k"], {}),
        ([], {"eval_dir": "evals"}),
        (["x"], {"method": ["semantic"], "encoder": "enc", "judge": lambda pairs: []}),
        (["x"], {"method": ["all"], "threshold": 0.3}),  # other options pass through
    ],
)
def test_combinations_that_work(evals, options):
    check_arguments(evals, **options)


def test_refused_before_the_output_folder_is_made(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"prompt": "Grüße", "completion": "ok"}) + "\n")
    with pytest.raises(UsageError):
        decontaminate_files([train], [], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(
        main, ["decontam", "--train", str(train), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2 and "decontam [OPTIONS]" in result.output
    assert "give --eval (repeatable) or --eval-dir" in result.output
    assert not (tmp_path / "out").exists()
