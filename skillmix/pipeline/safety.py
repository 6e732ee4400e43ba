"""Run-folder safety: safe names, recipe YAML, stage markers, workers that die with the run."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from manifests.yaml_files import YamlFileError, load_yaml_file
from skillmix.pipeline.stage import StageError

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MARKER = ".skillmix-stage"  # written by the run into every stage folder it creates


class UnsafeNameError(StageError):
    """A stage or recipe name that could leave the run folder (separators, `..`, ...)."""


class RecipeYamlError(StageError):
    """A recipe YAML that uses aliases (a billion-laughs bomb expands them) or is not YAML."""


def check_name(where: str, name: str) -> str:
    """`name` when it is one plain folder name: letters, digits, `.`, `_`, `-`; no `..`."""
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise UnsafeNameError(
            f"{where}: {name!r} is not a safe folder name (use letters, "
            f"digits, '.', '_' or '-'; no path separators or '..')"
        )
    return name


def load_yaml(path: Path) -> Any:
    """A run recipe's YAML, through the project's one strict loader (manifests.yaml_files)."""
    try:
        return load_yaml_file(path)
    except YamlFileError as exc:
        raise RecipeYamlError(f"recipe {exc}") from None


def mark_stage(folder: Path) -> None:
    (folder / MARKER).write_text("created by skillmix run\n")


def is_marked(folder: Path) -> bool:
    return not folder.is_symlink() and folder.is_dir() and (folder / MARKER).is_file()


def remove_stage(folder: Path) -> None:
    """Delete a stage folder, only when this tool made it."""
    if not is_marked(folder):
        raise StageError(
            f"{folder}: not a folder skillmix run created (no {MARKER}); "
            f"move it out of the run directory"
        )
    shutil.rmtree(folder)


def die_with_parent() -> None:
    """In a worker process: get SIGKILL when the parent dies (Linux), exit if it already has."""
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # it died before the signal was armed: we were reparented
        os._exit(1)


_FORK_HOOKED = False


def _after_fork(hook: object) -> None:
    die_with_parent()


def forked_children_die_with_parent() -> None:
    """Every process forked from here on through multiprocessing or `multiprocess` (the pool
    datatrove starts, its Manager server) dies with its parent instead of living on as an
    orphan after a kill -9 of the driver."""
    global _FORK_HOOKED
    if _FORK_HOOKED:
        return
    _FORK_HOOKED = True
    import multiprocessing.util

    # The registries hold their key object weakly: a module-level function lives on.
    multiprocessing.util.register_after_fork(die_with_parent, _after_fork)
    try:
        import multiprocess.util  # datatrove's fork of multiprocessing
    except ImportError:
        return
    multiprocess.util.register_after_fork(die_with_parent, _after_fork)
