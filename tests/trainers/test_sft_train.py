"""End-to-end SFT on a shard folder: overfitting, resume, logs, accounting."""

import json
import shutil

import pytest

from manifests.shards import write_shards
from tests.trainers.run_configs import run_config
from trainers import SFTConfig, read_log, run_sft

config = run_config(
    SFTConfig,
    learning_rate=3e-3,
    warmup_ratio=0.1,
    max_steps=8,
)


def test_overfit_20_rows_loss_falls_90_percent(model_dir, sft_mix, tmp_path):
    summary = run_sft(
        config(
            model_dir,
            sft_mix,
            tmp_path / "out",
            batch_size=20,
            micro_batch_size=10,
            learning_rate=1e-2,
            max_steps=60,
            warmup_ratio=0.0,
            schedule="constant",
        )
    )
    assert summary["accounting"] == {"rows_in": 20, "rows_out": 20, "removed": {}, "rejected": 0}
    losses = [r["loss"] for r in read_log(tmp_path / "out")]
    assert len(losses) == 60
    assert losses[-1] <= 0.1 * losses[0], (losses[0], losses[-1])
    final = tmp_path / "out" / "final"
    assert (final / "model.safetensors").exists() and (final / "tokenizer.json").exists()


def test_resume_mid_run_gives_the_same_curve(model_dir, sft_mix, tmp_path):
    full = tmp_path / "full"
    run_sft(config(model_dir, sft_mix, full, save_every=2, keep_checkpoints=3, schedule="cosine"))
    straight = read_log(full)
    kept = sorted(p.name for p in full.glob("checkpoint-*"))
    assert kept == ["checkpoint-000004", "checkpoint-000006", "checkpoint-000008"]
    ckpt = full / "checkpoint-000004"
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["step"] == 4 and state["total_steps"] == 8
    # "latest" in an output folder that holds the mid-run checkpoint.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(ckpt, resumed / ckpt.name)
    (resumed / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in straight[:4]) + '{"step": 5, "loss": 99}\n'
    )
    run_sft(
        config(
            model_dir,
            sft_mix,
            resumed,
            save_every=2,
            keep_checkpoints=3,
            schedule="cosine",
            resume="latest",
        )
    )
    again = read_log(resumed)
    assert [r["step"] for r in again] == list(range(1, 9))
    for a, b in zip(straight, again, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)
        assert a["lr"] == pytest.approx(b["lr"], rel=1e-9)


def test_logs_padding_share_and_tensorboard(model_dir, sft_mix, tmp_path):
    run_sft(config(model_dir, sft_mix, tmp_path / "packed", max_steps=2, tensorboard=True))
    run_sft(config(model_dir, sft_mix, tmp_path / "padded", max_steps=2, packing=False))
    packed, padded = read_log(tmp_path / "packed"), read_log(tmp_path / "padded")
    for record in packed:
        assert {"loss", "lr", "grad_norm", "tokens_per_second", "padding_share"} <= set(record)
    assert all(r["padding_share"] == 0 for r in packed)
    assert any(r["padding_share"] > 0 for r in padded)
    assert packed[0]["loss"] == pytest.approx(padded[0]["loss"], abs=1e-5)
    assert list((tmp_path / "packed" / "tensorboard").glob("events.out.tfevents.*"))


def test_rows_without_labels_are_counted_as_removed(model_dir, tmp_path, rows_factory):
    rows = rows_factory(9)
    rows.append(
        {
            "id": "x",
            "source": "t",
            "skill": "chat",
            "metadata": "{}",
            "messages": [
                {"role": "user", "content": "the cat sat " * 100},
                {"role": "assistant", "content": "cut off"},
            ],
        }
    )
    write_shards(rows, tmp_path / "mix", "sft")
    summary = run_sft(
        config(model_dir, tmp_path / "mix", tmp_path / "out", max_steps=1, max_length=96)
    )
    assert summary["accounting"]["removed"] == {"no_labels_after_truncation": 1}
    assert summary["accounting"]["rows_out"] == 9
    assert summary["rows_dropped_per_epoch"] == 1


def test_tampered_shard_is_refused(model_dir, tmp_path, rows_factory):
    write_shards(rows_factory(8), tmp_path / "mix", "sft")
    shard = next((tmp_path / "mix").glob("shard-*.arrow"))
    shard.write_bytes(shard.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ValueError, match="sha256"):
        run_sft(config(model_dir, tmp_path / "mix", tmp_path / "out"))


def test_wrong_kind_is_refused(model_dir, pref_mix, tmp_path):
    with pytest.raises(ValueError, match="preference"):
        run_sft(config(model_dir, pref_mix, tmp_path / "out"))


def test_lora_trains_only_the_adapter(model_dir, sft_mix, tmp_path):
    summary = run_sft(
        config(
            model_dir,
            sft_mix,
            tmp_path / "out",
            lora=True,
            lora_r=4,
            max_steps=6,
            learning_rate=1e-2,
            gradient_checkpointing=True,
        )
    )
    losses = [r["loss"] for r in read_log(tmp_path / "out")]
    assert losses[-1] < losses[0]
    final = tmp_path / "out" / "final"
    assert (final / "adapter_model.safetensors").exists()
    assert not (final / "model.safetensors").exists()
    assert summary["accounting"]["rows_out"] == 20


def test_resume_refuses_a_different_plan(model_dir, sft_mix, tmp_path):
    run_sft(config(model_dir, sft_mix, tmp_path / "out", max_steps=2))
    with pytest.raises(ValueError, match="steps"):
        run_sft(config(model_dir, sft_mix, tmp_path / "out", max_steps=3, resume="latest"))


def test_bad_rows_stop_the_run_or_go_to_rejects(model_dir, sft_mix, tmp_path, monkeypatch):
    import trainers.data.mix as data

    real = data.validate_row

    def flaky(row, kind):  # a row that the contract (as it stands now) refuses
        if row["id"] == "r3":
            raise ValueError("field 'messages': a made-up problem")
        real(row, kind)

    monkeypatch.setattr(data, "validate_row", flaky)
    with pytest.raises(ValueError, match=r"row 3: field 'messages'"):
        run_sft(config(model_dir, sft_mix, tmp_path / "strict"))
    summary = run_sft(
        config(model_dir, sft_mix, tmp_path / "lenient", on_bad_row="skip", max_steps=1)
    )
    assert summary["accounting"] == {"rows_in": 20, "rows_out": 19, "removed": {}, "rejected": 1}
    rejects = [
        json.loads(x) for x in (tmp_path / "lenient" / "rejects.jsonl").read_text().splitlines()
    ]
    assert len(rejects) == 1 and rejects[0]["row"] == 3 and rejects[0]["raw"]["id"] == "r3"


def test_bf16_mixed_precision_runs(model_dir, sft_mix, tmp_path):
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)  # other tests set "no"
    try:
        summary = run_sft(config(model_dir, sft_mix, tmp_path / "out", bf16=True, max_steps=2))
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
    losses = [r["loss"] for r in read_log(tmp_path / "out")]
    assert len(losses) == 2 and all(0 < x < 10 for x in losses)
    assert summary["final_loss"] == losses[-1]
