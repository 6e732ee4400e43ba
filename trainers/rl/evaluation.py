"""The evaluation pass on held-out rlvr rows: one completion per prompt (greedy by
default), pass@1 (share verified) and mean reward, overall and per verifier."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from curate.verifiers import VERIFIERS
from trainers.data.prompts import Prompt
from trainers.rl.generation import Generator, Sampling
from trainers.rl.rewards import RewardSpec
from trainers.rl.rollout import STAT_KEYS, rollout_stats, score_groups


def evaluate(
    generator: Generator,
    prompts: Sequence[Prompt],
    spec: RewardSpec,
    sampling: Sampling,
    *,
    batch_size: int = 16,
    process_index: int = 0,
    num_processes: int = 1,
    reduce: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
) -> dict:
    """Each process takes every `num_processes`-th prompt; `reduce` sums across them."""
    mine = list(prompts[process_index::num_processes])
    totals = dict.fromkeys(STAT_KEYS, 0.0)
    generator.sync_weights()
    for start in range(0, len(mine), batch_size):
        chunk = mine[start : start + batch_size]
        completions = generator.generate([p.input_ids for p in chunk], 1, sampling)
        scored = score_groups(chunk, completions, spec)
        stats = rollout_stats(chunk, completions, scored, torch.ones(len(chunk), dtype=torch.bool))
        for key, value in stats.items():
            totals[key] += value
    vector = reduce(torch.tensor([totals[k] for k in STAT_KEYS], dtype=torch.float64))
    totals = dict(zip(STAT_KEYS, vector.tolist(), strict=True))
    return eval_report(totals)


def eval_report(totals: dict[str, float]) -> dict:
    n = totals["samples"]
    report = {
        "rows": int(n),
        "pass@1": totals["correct"] / n if n else None,
        "mean_reward": totals["reward_sum"] / n if n else None,
        "mean_length": totals["length_sum"] / n if n else None,
        "verifier_errors": int(totals["verifier_errors"]),
        "per_verifier": {},
    }
    for name in sorted(VERIFIERS):
        count = totals[f"{name}/samples"]
        if count:
            report["per_verifier"][name] = {
                "rows": int(count),
                "pass@1": totals[f"{name}/correct"] / count,
                "mean_reward": totals[f"{name}/reward_sum"] / count,
            }
    return report
