"""Where a default lives: read a config class's (or a function's) own default by name.

The CLI's options and the pipeline's stage options both take their defaults from here, so
a default is written once, in the room's config class.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from typing import Any

ConfigRef = type | Callable | str  # a dataclass, a function, or "module:name" of either


def resolve(ref: ConfigRef) -> Any:
    """The class or function a "module:name" reference names (imported now), or `ref`."""
    if isinstance(ref, str):
        module, _, name = ref.partition(":")
        return getattr(importlib.import_module(module), name)
    return ref


def field_default(ref: ConfigRef, path: str) -> Any:
    """The default of `path` in a config dataclass or a function's keyword (None if it has
    none); `params.temperature` reads a field of a nested dataclass default."""
    target = resolve(ref)
    head, _, rest = path.partition(".")
    if dataclasses.is_dataclass(target):
        spec = {f.name: f for f in dataclasses.fields(target)}[head]
        if spec.default is not dataclasses.MISSING:
            value = spec.default
        elif spec.default_factory is not dataclasses.MISSING:
            value = spec.default_factory()
        else:
            value = None
    else:
        value = inspect.signature(target).parameters[head].default
        value = None if value is inspect.Parameter.empty else value
    return getattr(value, rest) if rest else value
