"""Config files with flag overrides, step plans, and the `skillmix train` commands."""

import json

import pytest
from click.testing import CliRunner

from skillmix.cli import main
from trainers.core.config import DPOConfig, SFTConfig, load_config
from trainers.data.mix import plan_steps


def test_yaml_then_flags(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("data: d\nmodel: m\noutput: o\nlearning-rate: 0.001\nbatch_size: 16\n")
    config = load_config(SFTConfig, path, {"batch_size": 4, "seed": None})
    assert config.learning_rate == 0.001 and config.batch_size == 4 and config.seed == 42
    dpo = load_config(DPOConfig, None, {"data": "d", "model": "m", "output": "o"})
    assert dpo.loss == "dpo_norm" and dpo.beta == 5.0


@pytest.mark.parametrize(
    "text, problem",
    [
        ("data: d\nmodel: m\noutput: o\nlr_typo: 1\n", "unknown option"),
        ("data: d\nmodel: m\noutput: o\nreduction: median\n", "reduction"),
        ("model: m\noutput: o\n", "`data` is required"),
    ],
)
def test_bad_config_is_named(tmp_path, text, problem):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=problem):
        load_config(SFTConfig, path, {})


def test_plan_is_deterministic_and_splits_processes():
    plan = plan_steps(10, batch_size=4, micro_batch_size=1, num_processes=2, epochs=2, seed=3)
    assert len(plan.steps) == 4 and plan.dropped_per_epoch == 2
    assert plan == plan_steps(
        10, batch_size=4, micro_batch_size=1, num_processes=2, epochs=2, seed=3
    )
    for step in plan.steps:
        assert len(step) == 2 and all(len(p) == 2 for p in step)  # 2 processes x 2 micro
        rows = [i for p in step for mb in p for i in mb]
        assert len(set(rows)) == 4
    longer = plan_steps(
        10, batch_size=4, micro_batch_size=2, num_processes=1, epochs=1, seed=3, max_steps=5
    )
    assert len(longer.steps) == 5
    with pytest.raises(ValueError, match="multiple"):
        plan_steps(10, batch_size=3, micro_batch_size=2, num_processes=1, epochs=1, seed=0)


def test_cli_sft_with_config_and_override(model_dir, sft_mix, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        f"data: {sft_mix}\nmodel: {model_dir}\nbatch_size: 4\n"
        "micro_batch_size: 2\nmax_steps: 5\ntensorboard: false\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "train",
            "sft",
            "--config",
            str(path),
            "--output",
            str(out),
            "--max-steps",
            "2",
            "--lr",
            "1e-3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "rows in 20, out 20, removed 0 (none), rejected 0" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2
    record = json.loads((out / "checkpoint-000002" / "trainer_state.json").read_text())
    assert record["config"]["learning_rate"] == 1e-3


def test_cli_dpo_and_clear_errors(model_dir, pref_mix, sft_mix, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(
        main,
        [
            "train",
            "dpo",
            "--data",
            str(pref_mix),
            "--model",
            str(model_dir),
            "--output",
            str(tmp_path / "o"),
            "--beta",
            "0.1",
            "--loss",
            "dpo",
            "--batch-size",
            "4",
            "--max-steps",
            "1",
            "--no-tensorboard",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "reference log-probs: computed" in ok.output
    wrong = runner.invoke(
        main,
        [
            "train",
            "dpo",
            "--data",
            str(sft_mix),
            "--model",
            str(model_dir),
            "--output",
            str(tmp_path / "w"),
        ],
    )
    assert wrong.exit_code != 0 and "expected 'preference'" in wrong.output


def test_every_option_has_help():
    from skillmix.commands.train import train

    for command in train.commands.values():
        for param in command.params:
            assert getattr(param, "help", None), f"{command.name} {param.name}"
