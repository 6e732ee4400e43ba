"""Run logs: one JSON object per line in `metrics.jsonl`, mirrored to TensorBoard.

`metrics.jsonl` keeps the names the recipes log (documented in docs/trainers.md and
docs/rlvr.md). TensorBoard tags are named as TRL's trainers name them, so curves overlay
with TRL runs: transformers' TensorBoard callback writes a training log key `k` as
`train/k`, and TRL's keys are `loss`, `learning_rate`, `grad_norm`, `rewards/chosen`,
`rewards/margins`, `rewards/accuracies`, `logps/chosen`, GRPO's `reward`, `kl`,
`completions/mean_length`, `clip_ratio/region_mean`, `frac_reward_zero_std`, ...
"""

from __future__ import annotations

import json
from pathlib import Path

# Our key -> TRL's log key, where they differ; any other key keeps its name.
TRL_NAMES = {
    "lr": "learning_rate",
    "rewards/margin": "rewards/margins",
    "rewards/accuracy": "rewards/accuracies",
    "reward/mean": "reward",
    "completion_length": "completions/mean_length",
    "clip_fraction": "clip_ratio/region_mean",
    "zero_signal_share": "frac_reward_zero_std",
}


def tensorboard_tag(key: str) -> str:
    """The TensorBoard tag TRL (through transformers' `rewrite_logs`) gives a training key."""
    return "train/" + TRL_NAMES.get(key, key)


class RunLog:
    """Appends metrics; a no-op on processes other than the main one.

    `start_step` is the step a resumed run starts after: TensorBoard is told to purge the
    old run's events past it, so a resumed curve has no duplicate points.
    """

    def __init__(
        self,
        output: str | Path,
        *,
        enabled: bool = True,
        tensorboard: bool = True,
        start_step: int = 0,
    ):
        self.enabled = enabled
        self.path = Path(output) / "metrics.jsonl"
        self._tb = None
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(
                    log_dir=str(Path(output) / "tensorboard"),
                    purge_step=start_step + 1 if start_step else None,
                )

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        if self._tb is not None:
            for key, value in metrics.items():
                self._tb.add_scalar(tensorboard_tag(key), value, step)

    def truncate_after(self, step: int) -> None:
        """On resume: drop lines logged after the checkpoint, so the curve has no repeats."""
        if not self.enabled or not self.path.exists():
            return
        kept = [ln for ln in self.path.read_text().splitlines() if json.loads(ln)["step"] <= step]
        self.path.write_text("".join(ln + "\n" for ln in kept))

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_log(output: str | Path) -> list[dict]:
    path = Path(output) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
