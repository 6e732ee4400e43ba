"""Why a hub dataset (`hf://NAME[:CONFIG][@SPLIT]`) did not load, in one line with the fix.

`datasets.load_dataset` fails in many ways (no network, offline mode, a repo that ships a
loading script, a missing config or split, a repo that does not exist); each becomes a
sentence naming the problem and what to do, never a traceback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SCRIPT_REFUSED = "Dataset scripts are no longer supported"
_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_CONNECTION_TYPES = ("ConnectError", "ConnectTimeout", "TransportError", "ReadTimeout")


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _listed(pattern: str, text: str) -> str | None:
    found = re.search(pattern, text)
    return found.group(1) if found else None


def _is_named(exc: BaseException, *names: str) -> bool:
    return any(cls.__name__ in names for cls in type(exc).__mro__)


def _offline_variable() -> str | None:
    for name in _OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
            return name
    return None


def hub_failure(name: str, config: str | None, split: str, exc: BaseException) -> str:
    """One line: what went wrong loading hub dataset `name`, and the fix."""
    reason, fix = _reason_and_fix(name, config, split, exc)
    return f"could not load {name!r} (config {config!r}, split {split!r}): {reason}. Fix: {fix}"


def _reason_and_fix(
    name: str, config: str | None, split: str, exc: BaseException
) -> tuple[str, str]:
    text = " ".join(str(exc).split())
    local = "download it where the hub is reachable and pass the local file (.parquet, .jsonl)"
    if SCRIPT_REFUSED in text and Path(name).exists():
        return (
            "it is a dataset-script folder, which datasets>=4 refuses to run",
            "save its rows as .parquet or .jsonl (with datasets<4, or from the files the "
            "script reads) and pass that file",
        )
    if SCRIPT_REFUSED in text:
        stem = name.rsplit("/", 1)[-1]
        return (
            "it is a dataset-script repo, which datasets>=4 refuses to run",
            f"download the hub's Parquet conversion of it, `hf download {name} --repo-type "
            f"dataset --revision refs/convert/parquet --local-dir {stem}-parquet`, and pass "
            f"its .parquet files (hf:// sources take no revision)",
        )
    if _is_named(exc, "DatasetNotFoundError", "RepositoryNotFoundError"):
        return (
            f"no such dataset on the Hugging Face hub, or it is private or gated "
            f"({_one_line(exc)})",
            "check the name (hf://OWNER/NAME[:CONFIG][@SPLIT]); for a private or gated one, "
            "log in with `hf auth login` and accept its terms",
        )
    if isinstance(exc, (ConnectionError, TimeoutError)) or _is_named(exc, *_CONNECTION_TYPES):
        offline = _offline_variable()
        if offline is not None:
            return (
                f"{offline} is set and it is not in the local Hugging Face cache",
                f"unset {offline} where the hub is reachable, or {local}",
            )
        return (
            f"the Hugging Face hub is unreachable ({_one_line(exc)})",
            f"check the network or proxy, or {local}; with HF_HUB_OFFLINE=1 a dataset "
            f"already in the local cache loads without the network",
        )
    if "Config name is missing" in text:
        configs = _listed(r"available configs: (\[[^\]]*\])", text)
        return "it needs a config", f"hf://{name}:CONFIG with one of {configs or '?'}"
    if re.search(r"BuilderConfig '.*' not found", text):
        configs = _listed(r"Available: (\[[^\]]*\])", text)
        return (
            f"it has no config {config!r}",
            f"hf://{name}:CONFIG with one of {configs or 'the configs on its hub page'}",
        )
    splits = _listed(r"(?:Available splits:|Should be one of) (\[[^\]]*\])", text)
    if splits is not None or "Bad split" in text or "Unknown split" in text:
        where = f"{name}:{config}" if config else name
        return (
            f"it has no split {split!r}",
            f"hf://{where}@SPLIT with one of {splits or 'the splits on its hub page'}",
        )
    return f"datasets.load_dataset failed ({type(exc).__name__}: {_one_line(exc)})", local
