"""Paths in a run's records that do not depend on where the project or the run dir lies.

In memory a pipeline path is absolute. In stage keys, `stage.json` and `run.json` a path
inside the run dir is written `{run}/<relative>`, any other local path `{recipe}/<relative>`
(relative to the recipe's folder, so `{recipe}/../../data/x.jsonl` is fine but no inner
`..`), with POSIX separators. Hub datasets (`hf://`) stay as written. Both roots are
resolved once (symlinks followed); the paths below them are normalized without touching the
disk, so a link inside the project stays a link and a copy that keeps it keeps its keys.
A copied or moved project therefore writes the same records and reuses its stages.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from manifests.readers import HUB_PREFIX

RUN = "{run}"
RECIPE = "{recipe}"


def _relative(path: str, root: str) -> str:
    rel = os.path.relpath(os.path.normpath(path), root)
    return PurePath(rel).as_posix()


@dataclass(frozen=True)
class Locations:
    """The two roots a run's paths are written against."""

    run_dir: Path
    recipe_dir: Path

    @classmethod
    def of(cls, run_dir: str | Path, recipe_dir: str | Path) -> Locations:
        return cls(Path(run_dir).resolve(), Path(recipe_dir).resolve())

    def portable(self, path: str | Path) -> str:
        """`{run}/...`, `{recipe}/...` or a hub spec: the same string wherever the run lies."""
        text = str(path)
        if text.startswith(HUB_PREFIX):
            return text
        absolute = os.path.normpath(os.path.join(self.recipe_dir, text))
        run = str(self.run_dir)
        if absolute == run or absolute.startswith(run + os.sep):
            return posixpath.join(RUN, _relative(absolute, run))
        return posixpath.join(RECIPE, _relative(absolute, str(self.recipe_dir)))

    def absolute(self, text: str) -> str:
        """The path a `portable` string names here (other strings come back unchanged)."""
        for token, root in ((RUN, self.run_dir), (RECIPE, self.recipe_dir)):
            if text == token or text.startswith(token + "/"):
                rel = text[len(token) + 1 :]
                return os.path.normpath(os.path.join(root, *rel.split("/"))) if rel else str(root)
        return text

    def lineage(self, path: str | Path) -> str:
        """The file name rows read from `path` record as their lineage: relative to the
        recipe's folder for the recipe's inputs, to the run dir for files a stage made."""
        text = self.portable(path)
        for token in (RUN, RECIPE):
            if text.startswith(token + "/"):
                return text[len(token) + 1 :]
        return text

    def to_portable(self, value: Any) -> Any:
        """Every absolute path string in a JSON-like value, as `portable` writes it."""
        if isinstance(value, dict):
            return {k: self.to_portable(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.to_portable(v) for v in value]
        if isinstance(value, str) and os.path.isabs(value):
            return self.portable(value)
        return value

    def from_portable(self, value: Any) -> Any:
        """The inverse of `to_portable`: every `{run}/` and `{recipe}/` string made absolute."""
        if isinstance(value, dict):
            return {k: self.from_portable(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.from_portable(v) for v in value]
        if isinstance(value, str):
            return self.absolute(value)
        return value
