"""One GRPO rollout: sample a group of completions per prompt, score them, turn the groups
that carry signal into training documents, and add up the statistics that get logged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from curate.verifiers import VERIFIERS
from trainers.data.chat import IGNORE_INDEX, Tokenized
from trainers.data.prompts import Prompt
from trainers.losses.sft import model_logps
from trainers.rl.generation import Completion
from trainers.rl.rewards import RewardSpec, Scored, score_completion

# Sums kept per rollout, in a fixed order so that processes can reduce them as one vector.
STAT_KEYS: tuple[str, ...] = (
    "samples",
    "reward_sum",
    "correct",
    "length_sum",
    "stopped",
    "verifier_errors",
    "groups",
    "zero_signal_groups",
    *(
        f"{name}/{part}"
        for name in sorted(VERIFIERS)
        for part in ("samples", "reward_sum", "correct")
    ),
)


def score_groups(
    prompts: Sequence[Prompt], completions: Sequence[Sequence[Completion]], spec: RewardSpec
) -> list[list[Scored]]:
    return [
        [score_completion(p.verifier, c.text, p.ground_truth, c.stopped, spec) for c in group]
        for p, group in zip(prompts, completions, strict=True)
    ]


def rollout_stats(
    prompts: Sequence[Prompt],
    completions: Sequence[Sequence[Completion]],
    scored: Sequence[Sequence[Scored]],
    signal: torch.Tensor,
) -> dict[str, float]:
    stats = dict.fromkeys(STAT_KEYS, 0.0)
    for prompt, group, scores in zip(prompts, completions, scored, strict=True):
        for completion, s in zip(group, scores, strict=True):
            stats["samples"] += 1
            stats["reward_sum"] += s.reward
            stats["correct"] += s.correct
            stats["length_sum"] += len(completion.token_ids)
            stats["stopped"] += completion.stopped
            stats["verifier_errors"] += s.error
            stats[f"{prompt.verifier}/samples"] += 1
            stats[f"{prompt.verifier}/reward_sum"] += s.reward
            stats[f"{prompt.verifier}/correct"] += s.correct
    stats["groups"] = float(len(prompts))
    stats["zero_signal_groups"] = float((~signal).sum())
    return stats


def stats_to_metrics(stats: dict[str, float]) -> dict[str, float]:
    """Means from summed statistics: reward (overall and per verifier), share correct,
    completion length, share stopped, skipped groups."""
    n = max(stats["samples"], 1.0)
    metrics = {
        "reward/mean": stats["reward_sum"] / n,
        "correct_share": stats["correct"] / n,
        "completion_length": stats["length_sum"] / n,
        "stopped_share": stats["stopped"] / n,
        "verifier_errors": stats["verifier_errors"],
        "zero_signal_groups": stats["zero_signal_groups"],
        "zero_signal_share": stats["zero_signal_groups"] / max(stats["groups"], 1.0),
    }
    for name in sorted(VERIFIERS):
        count = stats[f"{name}/samples"]
        if count:
            metrics[f"reward/{name}"] = stats[f"{name}/reward_sum"] / count
            metrics[f"correct_share/{name}"] = stats[f"{name}/correct"] / count
    return metrics


def training_docs(
    prompts: Sequence[Prompt],
    completions: Sequence[Sequence[Completion]],
    advantages: torch.Tensor,
    keep: torch.Tensor,
) -> tuple[list[Tokenized], list[float]]:
    """Prompt + completion documents (labels on the completion only) of the groups marked
    in `keep`, and each document's advantage. The caller leaves out a zero-signal group only
    when it adds nothing to the gradient (no KL term); its tokens still count, see
    `completion_tokens`."""
    docs, doc_advantages = [], []
    for p, (prompt, group) in enumerate(zip(prompts, completions, strict=True)):
        if not keep[p]:
            continue
        for g, completion in enumerate(group):
            if not completion.token_ids:
                continue
            ids = list(prompt.input_ids) + list(completion.token_ids)
            labels = [IGNORE_INDEX] * len(prompt.input_ids) + list(completion.token_ids)
            docs.append(Tokenized(input_ids=ids, labels=labels))
            doc_advantages.append(float(advantages[p, g]))
    return docs, doc_advantages


def completion_tokens(completions: Sequence[Sequence[Completion]]) -> int:
    """Completion tokens of every group, zero-signal ones included: the loss's normalizer
    (TRL's `dapo` convention, its default)."""
    return sum(len(c.token_ids) for group in completions for c in group)


def completion_logps(
    model, batch: dict[str, torch.Tensor], temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs of the completion tokens under `softmax(logits / temperature)`, the
    distribution they were sampled from, flattened in batch order; and each token's
    document index."""
    logps, mask = model_logps(model, batch, temperature)
    return logps[mask], batch["doc_index"][:, 1:][mask]


@dataclass
class Rollout:
    """A micro-batch's rollout, ready for training steps."""

    batch: dict[str, torch.Tensor] | None  # None: no group of this micro-batch has signal
    advantages: torch.Tensor | None  # per document of `batch`
    old_logps: torch.Tensor | None  # per completion token; None: use the current (detached)
    ref_logps: torch.Tensor | None  # per completion token; None without a reference
    num_tokens: int  # completion tokens of all groups: the normalizer's share of this batch
    stats: dict[str, float]
