"""Preference losses on per-sequence log-probabilities (pure functions).

Inputs are summed log-probs of the response tokens and their token counts, per pair:
- dpo      (Rafailov et al. 2023): z = beta * [(pc - rc) - (pr - rr)]
- dpo_norm (Tülu 3): the same with every log-prob divided by its sequence's token count
- simpo    (Meng et al. 2024): z = beta * (pc/|c| - pr/|r|) - gamma; no reference model
- ipo      (Azar et al. 2023, as TRL computes it): loss = (h - 1/(2 beta))^2 with
            h = (pc - rc)/|c| - (pr - rr)/|r|, log-ratios averaged per token (TRL: the IPO
            paper's reported results use this form; it keeps beta independent of length)
- ipo_sum  the same with summed log-ratios, h = (pc - rc) - (pr - rr)
For the sigmoid losses, label smoothing eps gives the conservative form
loss = -(1 - eps) log sigmoid(z) - eps log sigmoid(-z). IPO takes no smoothing.
Rewards are beta times the policy-minus-reference log-probs: per token for dpo_norm and
simpo, summed for the others (ipo included, as TRL logs them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class PreferenceLoss:
    losses: torch.Tensor  # per pair
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor


def preference_loss(
    loss_type: str,
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor | None,
    ref_rejected: torch.Tensor | None,
    chosen_tokens: torch.Tensor,
    rejected_tokens: torch.Tensor,
    *,
    beta: float,
    label_smoothing: float = 0.0,
    simpo_gamma: float = 0.5,
) -> PreferenceLoss:
    if loss_type in ("dpo_norm", "simpo"):
        policy_chosen = policy_chosen / chosen_tokens
        policy_rejected = policy_rejected / rejected_tokens
        if ref_chosen is not None and ref_rejected is not None:
            ref_chosen = ref_chosen / chosen_tokens
            ref_rejected = ref_rejected / rejected_tokens
    if loss_type == "simpo":
        chosen_rewards = beta * policy_chosen
        rejected_rewards = beta * policy_rejected
        z = chosen_rewards - rejected_rewards - simpo_gamma
        return PreferenceLoss(_smoothed(z, label_smoothing), chosen_rewards, rejected_rewards)
    if ref_chosen is None or ref_rejected is None:
        raise ValueError(f"loss {loss_type!r} needs reference log-probs")
    chosen_ratio = policy_chosen - ref_chosen
    rejected_ratio = policy_rejected - ref_rejected
    chosen_rewards, rejected_rewards = beta * chosen_ratio, beta * rejected_ratio
    if loss_type in ("dpo", "dpo_norm"):
        z = beta * (chosen_ratio - rejected_ratio)
        losses = _smoothed(z, label_smoothing)
    elif loss_type == "ipo":
        h = chosen_ratio / chosen_tokens - rejected_ratio / rejected_tokens
        losses = (h - 1 / (2 * beta)) ** 2
    elif loss_type == "ipo_sum":
        losses = (chosen_ratio - rejected_ratio - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(f"unknown preference loss {loss_type!r}")
    return PreferenceLoss(losses, chosen_rewards, rejected_rewards)


def _smoothed(z: torch.Tensor, eps: float) -> torch.Tensor:
    return -(1 - eps) * F.logsigmoid(z) - eps * F.logsigmoid(-z)


def needs_reference(loss_type: str) -> bool:
    return loss_type != "simpo"
