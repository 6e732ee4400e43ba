"""Resume refuses a change to any option that decides the result, naming the option with
its old and new values; output-only options (logging, checkpoint cadence, caches) may
change. The check runs before anything is restored."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from click.testing import CliRunner

from skillmix.cli import main
from tests.trainers.run_configs import run_config
from trainers import DPOConfig, SFTConfig, read_log, run_sft
from trainers.core.checkpoint import (
    STATE_FILE,
    ResumeMismatchError,
    check_resume,
    result_options_changed,
)
from trainers.core.config import OUTPUT_ONLY_OPTIONS
from trainers.rl.config import RLVRConfig

sft_config = run_config(
    SFTConfig,
    learning_rate=3e-3,
    warmup_ratio=0.0,
    max_steps=2,
)


def fake_checkpoint(output, config, step: int = 1) -> None:
    path = output / f"checkpoint-{step:06d}"
    path.mkdir(parents=True)
    (path / STATE_FILE).write_text(json.dumps({"step": step, "config": asdict(config)}))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, model_dir, sft_mix):
    """A finished two-step SFT run with a checkpoint to resume from."""
    out = tmp_path_factory.mktemp("resume-src")
    run_sft(sft_config(model_dir, sft_mix, out, save_every=1))
    return out


@pytest.mark.parametrize(
    "change, named",
    [
        ({"seed": 7}, "seed: 42 -> 7"),
        ({"learning_rate": 1e-3}, "learning_rate: 0.003 -> 0.001"),
        ({"batch_size": 2}, "batch_size: 4 -> 2"),
        ({"pack_length": 64}, "pack_length: None -> 64"),
        ({"max_length": 32}, "max_length: 2048 -> 32"),
        ({"max_steps": 3}, "max_steps: 2 -> 3"),
        ({"reduction": "sum"}, "reduction: 'mean' -> 'sum'"),
        ({"lora": True}, "lora: False -> True"),
    ],
)
def test_a_result_option_changed_is_refused_and_named(trained, model_dir, sft_mix, change, named):
    before = (trained / "metrics.jsonl").read_text()
    with pytest.raises(ResumeMismatchError) as err:
        run_sft(sft_config(model_dir, sft_mix, trained, save_every=1, resume="latest", **change))
    assert named in str(err.value) and "checkpoint-000002" in str(err.value)
    # Refused before anything ran: the log of the finished run is untouched.
    assert (trained / "metrics.jsonl").read_text() == before


def test_several_changes_are_all_named(tmp_path):
    saved = SFTConfig(data="d", model="m", output=str(tmp_path))
    fake_checkpoint(tmp_path, saved)
    config = SFTConfig(
        data="d", model="other", output=str(tmp_path), seed=1, schedule="cosine", resume="latest"
    )
    with pytest.raises(ResumeMismatchError) as err:
        check_resume(config)
    message = str(err.value)
    for part in ("model: 'm' -> 'other'", "seed: 42 -> 1", "schedule: 'linear' -> 'cosine'"):
        assert part in message


def test_output_only_options_may_change(trained, model_dir, sft_mix):
    # Logging, checkpoint cadence and cache placement do not decide the result.
    config = sft_config(
        model_dir,
        sft_mix,
        trained,
        save_every=5,
        keep_checkpoints=4,
        log_every=2,
        tensorboard=True,
        token_cache=False,
        resume="latest",
    )
    check_resume(config)  # no error
    run_sft(config)
    assert [r["step"] for r in read_log(trained)] == [1, 2]


def test_dpo_and_rlvr_options_are_checked(tmp_path):
    saved = DPOConfig(data="d", model="m", output=str(tmp_path / "dpo"))
    fake_checkpoint(tmp_path / "dpo", saved)
    for change, named in [
        ({"loss": "ipo"}, "loss: 'dpo_norm' -> 'ipo'"),
        ({"beta": 0.1}, "beta: 5.0 -> 0.1"),
    ]:
        with pytest.raises(ResumeMismatchError, match=named):
            check_resume(
                DPOConfig(
                    data="d", model="m", output=str(tmp_path / "dpo"), resume="latest", **change
                )
            )
    saved = RLVRConfig(data="d", model="m", output=str(tmp_path / "rl"))
    fake_checkpoint(tmp_path / "rl", saved)
    with pytest.raises(ResumeMismatchError, match="num_generations: 8 -> 4"):
        check_resume(
            RLVRConfig(
                data="d", model="m", output=str(tmp_path / "rl"), resume="latest", num_generations=4
            )
        )
    check_resume(
        RLVRConfig(
            data="d", model="m", output=str(tmp_path / "rl"), resume="latest", eval_batch_size=3
        )
    )


def test_no_checkpoint_or_no_resume_is_a_fresh_start(tmp_path):
    check_resume(SFTConfig(data="d", model="m", output=str(tmp_path), resume="latest"))
    fake_checkpoint(tmp_path, SFTConfig(data="d", model="m", output=str(tmp_path)))
    check_resume(SFTConfig(data="d", model="m", output=str(tmp_path), seed=3))  # resume off


def test_a_checkpoint_without_recorded_options_is_refused(tmp_path):
    path = tmp_path / "checkpoint-000001"
    path.mkdir()
    (path / STATE_FILE).write_text(json.dumps({"step": 1}))
    with pytest.raises(ResumeMismatchError, match="records no run options"):
        check_resume(SFTConfig(data="d", model="m", output=str(tmp_path), resume="latest"))
    (path / STATE_FILE).write_text("{not json")
    with pytest.raises(ResumeMismatchError, match="unreadable"):
        check_resume(SFTConfig(data="d", model="m", output=str(tmp_path), resume="latest"))


def test_an_option_the_old_run_did_not_record_counts_as_its_default():
    saved = asdict(SFTConfig(data="d", model="m", output="o"))
    del saved["disable_dropout"]
    same = SFTConfig(data="d", model="m", output="o")
    assert result_options_changed(saved, same) == []
    assert result_options_changed(
        saved, SFTConfig(data="d", model="m", output="o", disable_dropout=False)
    ) == [("disable_dropout", True, False)]


def test_output_only_set_names_real_options():
    known = {
        f
        for cls in (SFTConfig, DPOConfig, RLVRConfig)
        for f in asdict(cls(data="d", model="m", output="o"))
    }
    assert known >= OUTPUT_ONLY_OPTIONS
    assert not {"seed", "learning_rate", "batch_size", "max_steps", "model"} & OUTPUT_ONLY_OPTIONS


def test_cli_names_the_option_in_one_line(trained, model_dir, sft_mix):
    result = CliRunner().invoke(
        main,
        [
            "train",
            "sft",
            "--data",
            str(sft_mix),
            "--model",
            str(model_dir),
            "--output",
            str(trained),
            "--batch-size",
            "4",
            "--micro-batch-size",
            "2",
            "--learning-rate",
            "0.003",
            "--warmup-ratio",
            "0",
            "--max-steps",
            "2",
            "--seed",
            "9",
            "--resume",
            "latest",
        ],
    )
    assert result.exit_code == 1
    assert "seed: 42 -> 9" in result.output and "Traceback" not in result.output
