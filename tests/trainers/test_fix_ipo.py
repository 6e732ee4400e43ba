"""IPO is token-averaged as TRL computes it; the summed form stays available as `ipo_sum`.

TRL's own `DPOTrainer._compute_loss` is run on a stub model that returns fixed per-token
log-probs, so the comparison is against TRL's code, not a transcription of it.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from trainers.core.config import DPOConfig
from trainers.losses.preference import preference_loss

# Two pairs; per-token policy log-probs of each completion (lengths differ on purpose).
CHOSEN = [[-0.5, -1.2, -0.3, -2.0], [-1.0, -0.7]]
REJECTED = [[-1.5, -0.4, -2.2, -0.9, -1.1, -0.6, -3.0], [-2.5, -1.8, -0.2]]
REF_CHOSEN = [-5.0, -1.2]  # summed reference log-probs
REF_REJECTED = [-9.0, -4.0]
PROMPT = 3  # prompt tokens before each completion


def ours(loss_type: str, beta: float) -> torch.Tensor:
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    out = preference_loss(
        loss_type,
        t([sum(c) for c in CHOSEN]),
        t([sum(r) for r in REJECTED]),
        t(REF_CHOSEN),
        t(REF_REJECTED),
        t([float(len(c)) for c in CHOSEN]),
        t([float(len(r)) for r in REJECTED]),
        beta=beta,
    )
    return out.losses


def trl_ipo(beta: float) -> float:
    """TRL 1.16's DPO loss for loss_type="ipo", batch laid out [chosen..., rejected...]."""
    from trl.trainer.dpo_trainer import DPOTrainer

    seqs = CHOSEN + REJECTED
    width = PROMPT + max(len(s) for s in seqs)
    completion_mask = torch.zeros(len(seqs), width, dtype=torch.long)
    token_logps = torch.zeros(len(seqs), width - 1, dtype=torch.float64)
    for row, seq in enumerate(seqs):
        completion_mask[row, PROMPT : PROMPT + len(seq)] = 1
        # Shifted: position j predicts token j + 1.
        token_logps[row, PROMPT - 1 : PROMPT - 1 + len(seq)] = torch.tensor(seq)

    def model(**kwargs):
        shape = token_logps.shape
        return SimpleNamespace(
            log_probs=token_logps,
            entropy=torch.zeros(shape),
            mean_logits=torch.zeros(shape),
            is_top1=torch.zeros(shape, dtype=torch.bool),
        )

    model.training = True
    identity = lambda x: x  # noqa: E731
    trainer = SimpleNamespace(
        model=model,
        accelerator=SimpleNamespace(device="cpu", gather_for_metrics=identity, gather=identity),
        aux_loss_enabled=False,
        ld_alpha=None,
        precompute_ref_logps=True,
        f_divergence_type="reverse_kl",
        loss_types=["ipo"],
        loss_weights=[1.0],
        beta=beta,
        use_weighting=False,
        _metrics=defaultdict(lambda: defaultdict(list)),
        _total_train_tokens=0,
        _tp_size=1,
    )
    inputs = {
        "input_ids": torch.ones(len(seqs), width, dtype=torch.long),
        "attention_mask": torch.ones(len(seqs), width, dtype=torch.long),
        "completion_mask": completion_mask,
        "ref_chosen_logps": torch.tensor(REF_CHOSEN, dtype=torch.float64),
        "ref_rejected_logps": torch.tensor(REF_REJECTED, dtype=torch.float64),
    }
    return float(DPOTrainer._compute_loss(trainer, model, inputs, return_outputs=False))


@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_ipo_is_token_averaged_as_trl(beta):
    expected = []
    for c, r, rc, rr in zip(CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED, strict=True):
        h = (sum(c) - rc) / len(c) - (sum(r) - rr) / len(r)
        expected.append((h - 1 / (2 * beta)) ** 2)
    got = ours("ipo", beta)
    assert got.tolist() == pytest.approx(expected, rel=1e-12)
    # TRL reports the mean over pairs.
    assert float(got.mean()) == pytest.approx(trl_ipo(beta), rel=1e-6)  # TRL: fp32


def test_ipo_sum_keeps_the_summed_form_and_differs_from_trl():
    beta = 0.1
    expected = [
        ((sum(c) - rc) - (sum(r) - rr) - 1 / (2 * beta)) ** 2
        for c, r, rc, rr in zip(CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED, strict=True)
    ]
    got = ours("ipo_sum", beta)
    assert got.tolist() == pytest.approx(expected, rel=1e-12)
    # The negative control: the summed form is not what TRL computes on these inputs.
    assert float(got.mean()) != pytest.approx(trl_ipo(beta), rel=1e-3)


def test_ipo_rewards_are_summed_log_ratios_as_trl_logs_them():
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    out = preference_loss(
        "ipo",
        t([sum(CHOSEN[0])]),
        t([sum(REJECTED[0])]),
        t([REF_CHOSEN[0]]),
        t([REF_REJECTED[0]]),
        t([4.0]),
        t([7.0]),
        beta=0.1,
    )
    assert float(out.chosen_rewards[0]) == pytest.approx(0.1 * (sum(CHOSEN[0]) - REF_CHOSEN[0]))
    assert float(out.rejected_rewards[0]) == pytest.approx(
        0.1 * (sum(REJECTED[0]) - REF_REJECTED[0])
    )


def test_config_accepts_ipo_sum_and_refuses_unknown():
    base = dict(data="d", model="m", output="o")
    DPOConfig(**base, loss="ipo_sum").validate()
    with pytest.raises(ValueError, match="loss must be one of"):
        DPOConfig(**base, loss="ipo_mean").validate()
