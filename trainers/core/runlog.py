"""Run logs: one JSON object per line in `metrics.jsonl`, mirrored to TensorBoard."""

from __future__ import annotations

import json
from pathlib import Path


class RunLog:
    """Appends metrics; a no-op on processes other than the main one."""

    def __init__(self, output: str | Path, *, enabled: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.path = Path(output) / "metrics.jsonl"
        self._tb = None
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(Path(output) / "tensorboard"))

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        if self._tb is not None:
            for key, value in metrics.items():
                self._tb.add_scalar(key, value, step)

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
