"""The trainer configs the tests run: a few steps of the tiny model, small batches, no
TensorBoard. A test module passes its own defaults as keywords; `given` (what one test
asks for) wins over them."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_config(
    cls: type,
    model_dir: Path | str,
    data: Path | str,
    output: Path | str,
    given: dict[str, Any],
    **defaults: Any,
):
    base = dict(
        data=str(data),
        model=str(model_dir),
        output=str(output),
        batch_size=4,
        micro_batch_size=2,
        tensorboard=False,
    )
    return cls(**{**base, **defaults, **given})
