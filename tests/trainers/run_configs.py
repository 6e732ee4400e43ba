"""The trainer configs the tests run: a few steps of the tiny model, small batches, no
TensorBoard. A test module names its own defaults once; each test's keywords win."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_config(cls: type, **defaults: Any) -> Callable[..., Any]:
    """`make(model_dir, data, output, **given)` building `cls` from the shared base, then
    `defaults`, then `given`."""

    def make(model_dir: Path | str, data: Path | str, output: Path | str, **given: Any) -> Any:
        base = dict(
            data=str(data),
            model=str(model_dir),
            output=str(output),
            batch_size=4,
            micro_batch_size=2,
            tensorboard=False,
        )
        return cls(**{**base, **defaults, **given})

    return make
