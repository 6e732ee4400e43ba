"""GRPO's pieces as pure functions: group advantages, the k3 KL estimator, the clipped
per-token objective.

Shapes: rewards are [prompts, generations]; the token functions take flat 1-D tensors
holding one entry per completion token of the batch (any layout, as long as all inputs
share it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def group_advantages(
    rewards: torch.Tensor, *, scale_by_std: bool, eps: float = 1e-4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages (reward minus its group's mean, optionally over the group's std) and a
    mask of the groups that carry signal (not all rewards equal).

    The std is the sample std (Bessel's correction, as TRL's GRPOTrainer); `eps` keeps a
    near-constant group finite.
    """
    if rewards.ndim != 2:
        raise ValueError(f"rewards must be [prompts, generations], got {tuple(rewards.shape)}")
    if rewards.size(1) < 2:
        raise ValueError("a group needs at least 2 generations to compare")
    rewards = rewards.float()
    advantages = rewards - rewards.mean(dim=1, keepdim=True)
    if scale_by_std:
        advantages = advantages / (rewards.std(dim=1, keepdim=True, correction=1) + eps)
    signal = rewards.amax(dim=1) != rewards.amin(dim=1)
    return advantages, signal


def k3_kl(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(policy || reference) per token: e^d - d - 1 with
    d = ref - policy. Unbiased, never negative, and exactly 0 where the two agree."""
    delta = ref_logps - logps
    return torch.exp(delta) - delta - 1


@dataclass(frozen=True)
class GRPOTerms:
    """Per-token pieces of the objective (all 1-D, one entry per completion token)."""

    loss: torch.Tensor  # -min(r A, clip(r) A) + beta * k3
    ratio: torch.Tensor
    clipped: torch.Tensor  # bool: the clipped branch won, so the token gives no gradient
    kl: torch.Tensor | None  # k3 per token; None without a reference


def grpo_token_terms(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    ref_logps: torch.Tensor | None = None,
    *,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    beta: float = 0.0,
) -> GRPOTerms:
    """The clipped surrogate with a KL penalty, per token (PPO's objective with the
    asymmetric clip range [1 - epsilon_low, 1 + epsilon_high] of DAPO)."""
    ratio = torch.exp(logps - old_logps)
    unclipped = ratio * advantages
    clipped_ratio = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    surrogate = torch.minimum(unclipped, clipped_ratio * advantages)
    clipped = ((advantages > 0) & (ratio > 1 + epsilon_high)) | (
        (advantages < 0) & (ratio < 1 - epsilon_low)
    )
    loss = -surrogate
    kl = None
    if ref_logps is not None:
        kl = k3_kl(logps, ref_logps)
        if beta:
            loss = loss + beta * kl
    elif beta:
        raise ValueError("beta > 0 needs reference log-probs")
    return GRPOTerms(loss=loss, ratio=ratio, clipped=clipped, kl=kl)


def grpo_loss(terms: GRPOTerms, num_tokens: int | float) -> torch.Tensor:
    """Sum of the per-token losses over the token count of the whole batch (every
    micro-batch and process), not a mean per sequence: long and short completions weigh
    the same per token."""
    return terms.loss.sum() / max(float(num_tokens), 1.0)
