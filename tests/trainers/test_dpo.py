"""DPO: each loss against its formula, ln 2 at initialization, reference cache, LoRA."""

import math

import pytest
import torch

from manifests.shards import write_shards
from tests.trainers.run_configs import run_config
from trainers import DPOConfig, preference_loss, read_log, run_dpo
from trainers.core.reference import cache_key

PC, PR, RC, RR = -10.0, -14.0, -11.0, -12.5  # hand-set summed log-probs
NC, NR = 4.0, 7.0  # token counts


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def compute(loss_type, beta, eps=0.0, gamma=0.5):
    t = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    out = preference_loss(
        loss_type,
        t(PC),
        t(PR),
        t(RC),
        t(RR),
        t(NC),
        t(NR),
        beta=beta,
        label_smoothing=eps,
        simpo_gamma=gamma,
    )
    return float(out.losses[0]), float(out.chosen_rewards[0]), float(out.rejected_rewards[0])


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_dpo_formula(eps):
    beta = 0.1
    z = beta * ((PC - RC) - (PR - RR))
    expected = -(1 - eps) * log_sigmoid(z) - eps * log_sigmoid(-z)
    loss, chosen, rejected = compute("dpo", beta, eps)
    assert loss == pytest.approx(expected, rel=1e-12)
    assert chosen == pytest.approx(beta * (PC - RC)) and rejected == pytest.approx(beta * (PR - RR))


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_dpo_norm_formula(eps):
    beta = 5.0
    z = beta * ((PC / NC - RC / NC) - (PR / NR - RR / NR))
    expected = -(1 - eps) * log_sigmoid(z) - eps * log_sigmoid(-z)
    loss, chosen, _ = compute("dpo_norm", beta, eps)
    assert loss == pytest.approx(expected, rel=1e-12)
    assert chosen == pytest.approx(beta * (PC - RC) / NC)


def test_simpo_formula_ignores_reference():
    beta, gamma = 2.0, 0.5
    z = beta * (PC / NC - PR / NR) - gamma
    loss, chosen, rejected = compute("simpo", beta, gamma=gamma)
    assert loss == pytest.approx(-log_sigmoid(z), rel=1e-12)
    assert chosen == pytest.approx(beta * PC / NC) and rejected == pytest.approx(beta * PR / NR)
    t = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    no_ref = preference_loss(
        "simpo", t(PC), t(PR), None, None, t(NC), t(NR), beta=beta, simpo_gamma=gamma
    )
    assert float(no_ref.losses[0]) == pytest.approx(loss)


def test_ipo_formula_averages_log_ratios_per_token():
    beta = 0.5
    h = (PC - RC) / NC - (PR - RR) / NR
    loss, _, _ = compute("ipo", beta)
    assert loss == pytest.approx((h - 1 / (2 * beta)) ** 2, rel=1e-12)


def test_ipo_sum_formula():
    beta = 0.5
    h = (PC - RC) - (PR - RR)
    loss, _, _ = compute("ipo_sum", beta)
    assert loss == pytest.approx((h - 1 / (2 * beta)) ** 2, rel=1e-12)


def test_unknown_loss_and_missing_reference():
    t = torch.zeros(1)
    with pytest.raises(ValueError, match="unknown"):
        preference_loss("kto", t, t, t, t, t + 1, t + 1, beta=1.0)
    with pytest.raises(ValueError, match="reference"):
        preference_loss("dpo", t, t, None, None, t + 1, t + 1, beta=1.0)


dpo_config = run_config(
    DPOConfig,
    learning_rate=1e-3,
    beta=0.1,
    max_steps=3,
    warmup_ratio=0.0,
    loss="dpo",
)


@pytest.mark.parametrize("loss", ["dpo", "dpo_norm"])
def test_loss_is_ln2_at_init_and_cache_is_reused(model_dir, pref_mix, tmp_path, loss):
    cache = tmp_path / "cache"
    first = run_dpo(
        dpo_config(model_dir, pref_mix, tmp_path / "a", loss=loss, ref_cache_dir=str(cache))
    )
    assert first["reference"] == "computed"
    assert first["first_loss"] == pytest.approx(math.log(2), abs=1e-5)
    log = read_log(tmp_path / "a")
    assert log[0]["rewards/margin"] == pytest.approx(0.0, abs=1e-5)
    assert {
        "rewards/chosen",
        "rewards/rejected",
        "rewards/accuracy",
        "tokens_per_second",
        "grad_norm",
        "lr",
    } <= set(log[0])
    assert log[0]["padding_share"] == 0.0  # packed
    assert len(list(cache.glob("*.pt"))) == 1 and len(list(cache.glob("*.json"))) == 1
    second = run_dpo(
        dpo_config(model_dir, pref_mix, tmp_path / "b", loss=loss, ref_cache_dir=str(cache))
    )
    assert second["reference"] == "cache_hit"
    assert second["final_loss"] == pytest.approx(first["final_loss"], abs=1e-6)


def test_cache_key_follows_model_and_data(model_dir, tmp_path):
    key = cache_key(str(model_dir), "sha-a", 128, "tmpl", False)
    assert key == cache_key(str(model_dir), "sha-a", 128, "tmpl", False)
    assert key != cache_key(str(model_dir), "sha-b", 128, "tmpl", False)
    assert key != cache_key(str(tmp_path), "sha-a", 128, "tmpl", False)
    assert key != cache_key(str(model_dir), "sha-a", 64, "tmpl", False)


def test_dpo_learns_the_preference(model_dir, tmp_path, pairs_factory):
    write_shards(pairs_factory(8, seed=5), tmp_path / "mix", "preference")
    run_dpo(
        dpo_config(
            model_dir,
            tmp_path / "mix",
            tmp_path / "out",
            batch_size=8,
            micro_batch_size=4,
            max_steps=15,
            learning_rate=3e-3,
        )
    )
    log = read_log(tmp_path / "out")
    assert log[-1]["loss"] < 0.5 * math.log(2)
    assert log[-1]["rewards/margin"] > 0 and log[-1]["rewards/accuracy"] == 1.0


def test_lora_uses_the_adapter_disabled_model_as_reference(model_dir, pref_mix, tmp_path):
    summary = run_dpo(
        dpo_config(
            model_dir,
            pref_mix,
            tmp_path / "out",
            lora=True,
            lora_r=4,
            max_steps=4,
            learning_rate=1e-2,
        )
    )
    assert summary["reference"] == "adapter_disabled"
    assert summary["first_loss"] == pytest.approx(math.log(2), abs=1e-5)
    assert summary["final_loss"] < math.log(2)
    assert (tmp_path / "out" / "final" / "adapter_model.safetensors").exists()


def test_simpo_needs_no_reference(model_dir, pref_mix, tmp_path):
    summary = run_dpo(
        dpo_config(model_dir, pref_mix, tmp_path / "out", loss="simpo", beta=2.0, max_steps=2)
    )
    assert summary["reference"] == "none"
    assert not (tmp_path / "out" / "ref_cache").exists()
