"""Checkpoints: accelerate's full state (model, optimizer, RNG, registered scheduler) plus
`trainer_state.json` holding the data position (optimizer steps done) and the run's options."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

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
        p
        for p in Path(output).glob("checkpoint-*")
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


class ResumeMismatchError(ValueError):
    """A resumed run's options differ from the checkpoint's run where they decide the result."""


def result_options_changed(saved: dict[str, Any], config) -> list[tuple[str, Any, Any]]:
    """(option, saved value, new value) for each result-deciding option that differs.

    An option the saved run did not record (added since) counts as its default value.
    """
    from trainers.core.config import OUTPUT_ONLY_OPTIONS

    changed = []
    for f in dataclasses.fields(config):
        if f.name in OUTPUT_ONLY_OPTIONS:
            continue
        new = _plain(getattr(config, f.name))
        if f.name in saved:
            old = saved[f.name]
        elif f.default is not dataclasses.MISSING:
            old = _plain(f.default)
        else:
            old = _plain(f.default_factory())  # type: ignore[misc]
        if old != new:
            changed.append((f.name, old, new))
    return changed


def check_resume(config) -> Path | None:
    """Refuse to resume (ResumeMismatchError) when a result-deciding option changed since
    the checkpoint was written; returns the checkpoint resumed from, None for a fresh start.

    Cheap (reads one JSON file), so a run calls it before it loads its model or data.
    """
    path = resolve_resume(config.resume, config.output)
    if path is None:
        return None
    try:
        state = json.loads((path / STATE_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResumeMismatchError(f"{path / STATE_FILE}: unreadable ({err})") from None
    saved = state.get("config") if isinstance(state, dict) else None
    if not isinstance(saved, dict):
        raise ResumeMismatchError(
            f"{path}: the checkpoint records no run options, so a resumed run cannot be "
            "checked against it; start a new run"
        )
    changed = result_options_changed(saved, config)
    if changed:
        listed = "; ".join(f"{name}: {old!r} -> {new!r}" for name, old, new in changed)
        raise ResumeMismatchError(
            f"{path}: cannot resume with changed option(s) that decide the result ({listed}); "
            "resume with the checkpoint's values or start a new run in another output folder"
        )
    return path


def _plain(value: Any) -> Any:
    """The value as trainer_state.json holds it (tuples as lists), so both sides compare."""
    return json.loads(json.dumps(value, default=str))
