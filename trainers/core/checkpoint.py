"""Checkpoints: accelerate's full state (model, optimizer, RNG, registered scheduler) plus
`trainer_state.json` holding the data position (optimizer steps done)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

STATE_FILE = "trainer_state.json"


def checkpoint_dir(output: str | Path, step: int) -> Path:
    return Path(output) / f"checkpoint-{step:06d}"


def save_checkpoint(accelerator, output: str | Path, step: int, extra: dict) -> Path:
    path = checkpoint_dir(output, step)
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / STATE_FILE).write_text(json.dumps({"step": step, **extra}, indent=2))
    accelerator.wait_for_everyone()
    return path


def checkpoints(output: str | Path) -> list[Path]:
    """Complete checkpoints in `output`, oldest first."""
    found = [
        p for p in Path(output).glob("checkpoint-*")
        if re.fullmatch(r"checkpoint-\d+", p.name) and (p / STATE_FILE).exists()
    ]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(output: str | Path) -> Path | None:
    found = checkpoints(output)
    return found[-1] if found else None


def prune_checkpoints(output: str | Path, keep: int | None) -> list[Path]:
    """Delete all but the newest `keep` checkpoints; returns the deleted folders."""
    if not keep:
        return []
    old = checkpoints(output)[:-keep]
    for path in old:
        shutil.rmtree(path)
    return old


def resolve_resume(resume: str | None, output: str | Path) -> Path | None:
    """`resume` is a checkpoint folder or "latest" (the newest in `output`, if any)."""
    if not resume:
        return None
    if resume == "latest":
        return latest_checkpoint(output)
    path = Path(resume)
    if not (path / STATE_FILE).exists():
        raise FileNotFoundError(f"{path}: not a checkpoint (no {STATE_FILE})")
    return path


def load_checkpoint(accelerator, path: Path) -> dict:
    """Restore the state saved by `save_checkpoint`; returns its trainer state."""
    accelerator.load_state(str(path))
    return json.loads((path / STATE_FILE).read_text())
