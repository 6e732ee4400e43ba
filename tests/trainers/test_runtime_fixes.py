"""Runtime defects of issue 14: dropout, saved config, pack-length cap, TensorBoard after
resume, accelerate's mixed precision, the progress bar."""

import io
import json
import math
import shutil

import pytest

from tests.trainers.run_configs import run_config
from trainers import DPOConfig, SFTConfig, read_log, run_dpo, run_sft


@pytest.fixture(scope="module")
def dropout_model_dir(model_dir, tmp_path_factory):
    """The tiny Llama with attention_dropout 0.1 in its config."""
    path = tmp_path_factory.mktemp("dropout-llama")
    for f in model_dir.iterdir():
        shutil.copy(f, path / f.name)
    config = json.loads((path / "config.json").read_text())
    config["attention_dropout"] = 0.1
    (path / "config.json").write_text(json.dumps(config))
    return path


dpo = run_config(
    DPOConfig,
    learning_rate=1e-3,
    beta=0.1,
    max_steps=1,
    warmup_ratio=0.0,
    loss="dpo",
    token_cache=False,
)


def test_dropout_is_off_so_dpo_starts_at_ln2(dropout_model_dir, pref_mix, tmp_path):
    summary = run_dpo(dpo(dropout_model_dir, pref_mix, tmp_path / "off"))
    # The reference is the policy at init; only float summation order differs.
    assert summary["first_loss"] == pytest.approx(math.log(2), abs=1e-6)
    # The saved model keeps the config it was loaded with (dropout, use_cache).
    saved = json.loads((tmp_path / "off" / "final" / "config.json").read_text())
    assert saved["attention_dropout"] == 0.1 and saved["use_cache"] is True
    # Negative control: with dropout kept, the first loss is off ln 2 (0.6943 in the issue).
    kept = run_dpo(dpo(dropout_model_dir, pref_mix, tmp_path / "on", disable_dropout=False))
    assert abs(kept["first_loss"] - math.log(2)) > 1e-4


def test_reference_model_has_dropout_off_too(dropout_model_dir):
    import torch

    from trainers.core.modeling import load_reference_model, zero_dropout_config

    ref = load_reference_model(SFTConfig(model=str(dropout_model_dir)))
    assert ref.config.attention_dropout == 0.0
    assert all(m.attention_dropout == 0.0 for m in ref.modules() if hasattr(m, "attention_dropout"))
    assert not any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in ref.modules())

    class Sub:  # a config with a nested text config, as multimodal models have
        model_type = "sub"

        def __init__(self):
            self.hidden_dropout, self.flag = 0.2, True

        def to_dict(self):
            return {}

    class Top:
        def __init__(self):
            self.attn_pdrop, self.resid_pdrop, self.use_bias = 0.1, 0, False
            self.text_config = Sub()

    top = Top()
    assert zero_dropout_config(top) == {"attn_pdrop": 0.1, "text_config.hidden_dropout": 0.2}
    assert top.attn_pdrop == 0.0 and top.text_config.hidden_dropout == 0.0
    assert top.text_config.flag is True and top.use_bias is False


sft = run_config(
    SFTConfig,
    micro_batch_size=4,
    learning_rate=1e-3,
    max_steps=2,
    token_cache=False,
)


def test_pack_length_caps_documents_and_is_counted(
    model_dir, sft_mix, tmp_path, monkeypatch, tokenizer
):
    import trainers.sft as sft_module
    from manifests import RowGate
    from trainers.data.chat import ensure_chat_template, tokenize_conversations
    from trainers.data.mix import read_mix

    limit = 24
    ensure_chat_template(tokenizer)
    rows = list(read_mix(sft_mix, "sft", RowGate()))
    lengths = [
        len(d.input_ids)
        for d in tokenize_conversations(tokenizer, [r["messages"] for r in rows], 2048)
    ]
    assert max(lengths) > limit  # the cap has something to do
    widths: list[int] = []
    real_collate = sft_module.collate

    def spy(*args, **kwargs):
        batch = real_collate(*args, **kwargs)
        widths.append(batch["input_ids"].shape[1])
        return batch

    monkeypatch.setattr(sft_module, "collate", spy)
    summary = run_sft(sft(model_dir, sft_mix, tmp_path / "out", pack_length=limit, max_steps=4))
    assert summary["truncated_to_pack_length"] == sum(n > limit for n in lengths)
    acc = summary["accounting"]
    assert acc["rows_in"] == acc["rows_out"] + sum(acc["removed"].values()) + acc["rejected"]
    assert widths and max(widths) <= limit


def test_tensorboard_has_no_duplicate_points_after_resume(model_dir, sft_mix, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    run_sft(sft(model_dir, sft_mix, out, max_steps=4, save_every=2, tensorboard=True))
    shutil.rmtree(out / "checkpoint-000004")  # as if killed after step 4's log, before its save
    run_sft(
        sft(model_dir, sft_mix, out, max_steps=4, save_every=2, tensorboard=True, resume="latest")
    )
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/learning_rate", "train/grad_norm"} <= tags
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]
    assert [r["step"] for r in read_log(out)] == [1, 2, 3, 4]


def test_tensorboard_tags_are_trl_names():
    from trainers.core.runlog import tensorboard_tag

    assert tensorboard_tag("lr") == "train/learning_rate"
    assert tensorboard_tag("rewards/margin") == "train/rewards/margins"
    assert tensorboard_tag("rewards/accuracy") == "train/rewards/accuracies"
    assert tensorboard_tag("reward/mean") == "train/reward"
    assert tensorboard_tag("logps/chosen") == "train/logps/chosen"


@pytest.fixture
def fresh_accelerate_state():
    from accelerate.state import AcceleratorState, PartialState

    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)
    PartialState._reset_state()


def test_accelerate_mixed_precision_is_honoured(fresh_accelerate_state, monkeypatch):
    """`accelerate launch --mixed_precision bf16` sets ACCELERATE_MIXED_PRECISION."""
    from trainers.core.loop import make_accelerator

    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    accelerator = make_accelerator(SFTConfig())
    assert accelerator.mixed_precision == "bf16"


def test_flash_attention_without_bf16_is_refused(fresh_accelerate_state, monkeypatch):
    from trainers.core.loop import make_accelerator

    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    with pytest.raises(ValueError, match="bf16"):
        make_accelerator(SFTConfig(attn_implementation="flash_attention_2"))


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_shows_loss_rate_and_eta_on_a_terminal_only():
    from trainers.core.loop import Progress

    tty = FakeTTY()
    bar = Progress(4, 1, stream=tty)
    bar.update({"loss": 1.23456, "tokens_per_second": 12345.0})
    bar.update({"loss": 1.0, "train_tokens_per_second": 99.0, "reward/mean": 0.5})
    bar.close()
    text = tty.getvalue()
    assert "loss=1.0000" in text and "tok/s=99" in text and "reward=0.500" in text
    assert "3/4" in text and "<" in text  # tqdm's elapsed<remaining (the ETA)
    pipe = io.StringIO()  # not a terminal: quiet
    quiet = Progress(4, 0, stream=pipe)
    quiet.update({"loss": 1.0})
    quiet.close()
    assert pipe.getvalue() == ""
    assert not Progress(4, 0, stream=FakeTTY(), enabled=False).bar.active  # not the main process


def test_cli_reports_the_pack_length_cut_and_takes_the_dropout_flag(model_dir, sft_mix, tmp_path):
    from click.testing import CliRunner

    from skillmix.cli import main

    out = tmp_path / "cli"
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
            str(out),
            "--batch-size",
            "4",
            "--max-steps",
            "1",
            "--pack-length",
            "24",
            "--keep-dropout",
            "--no-tensorboard",
            "--no-token-cache",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["truncated_to_pack_length"] > 0
    assert f"cut to --pack-length: {summary['truncated_to_pack_length']} rows" in result.output
    state = json.loads((out / "checkpoint-000001" / "trainer_state.json").read_text())
    assert state["config"]["disable_dropout"] is False


def test_bf16_runs_under_autocast_on_fp32_masters_with_a_bf16_reference(
    fresh_accelerate_state, monkeypatch, model_dir
):
    import torch

    from trainers.core.loop import prepare_optimization, start_run
    from trainers.core.modeling import load_reference_model
    from trainers.data.chat import Tokenized
    from trainers.data.collate import pack_batch

    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")  # as accelerate launch sets it
    config = SFTConfig(model=str(model_dir), data="unused", output="unused")
    run = start_run(config)
    prepare_optimization(run, 1)
    assert run.bf16 and not config.bf16
    assert all(p.dtype == torch.float32 for p in run.model.parameters())
    batch = pack_batch([Tokenized(input_ids=[5, 6, 7], labels=[5, 6, 7])])
    logits = run.model(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
    ).logits
    # accelerate's autocast wraps the forward (and hands the output back as fp32): every
    # logit is a bf16 value, which fp32 arithmetic on these weights would not give.
    assert torch.equal(logits, logits.bfloat16().float())
    plain = run.accelerator.unwrap_model(run.model, keep_fp32_wrapper=False)(
        input_ids=batch["input_ids"],
        position_ids=batch["position_ids"],
        use_cache=False,
    ).logits
    assert not torch.equal(plain, plain.bfloat16().float())
    ref = load_reference_model(config, bf16=run.bf16)
    assert {p.dtype for p in ref.parameters()} == {torch.bfloat16}


def test_dpo_reference_cache_follows_the_pack_length_cap(model_dir, pref_mix, tmp_path):
    cache = str(tmp_path / "cache")
    first = run_dpo(dpo(model_dir, pref_mix, tmp_path / "a", ref_cache_dir=cache))
    capped = run_dpo(dpo(model_dir, pref_mix, tmp_path / "b", ref_cache_dir=cache, pack_length=25))
    assert first["reference"] == "computed" and capped["truncated_to_pack_length"] > 0
    assert capped["reference"] == "computed"  # not the uncapped run's table
    # Reference == policy at init on the capped pairs too.
    assert capped["first_loss"] == pytest.approx(math.log(2), abs=1e-6)
