"""Mix recipes: one YAML file that says which sources go into a mix, and how much of each.

```yaml
name: my-mix
seed: 42
kind: sft                          # sft | preference | rlvr
sources:
  - name: persona_math
    path: data/persona_math.jsonl  # relative to the recipe's folder, or hf://NAME[:CONFIG][@SPLIT]
    skill: math                    # optional: overrides the rows' skill
    take: {fraction: 1.0}          # or {count: 50000}, {fraction: 2.5}, {weight: 0.3}
total: 200000                      # rows shared by weight (or tokens: N with a tokenizer)
dedup: {exact: true, minhash: {threshold: 0.8}}
decontaminate: {evals: [gsm8k, humaneval], method: ngram, threshold: 0.5}
shards: {max_rows: 50000}          # or max_bytes; format: arrow | parquet
```
Every key is checked; errors name the key (`sources[1].take.count: ...`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import posixpath
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from decontam.engine import FIELDS, METHODS, DecontamConfig
from manifests.readers import HUB_PREFIX
from manifests.schemas import KINDS
from manifests.shards import FORMATS
from manifests.yaml_files import YamlFileError, load_yaml_file

TAKE_MODES = ("fraction", "count", "weight")
DECONTAM_METHODS = (*METHODS, "all")
DEFAULT_MAX_BYTES = 500_000_000
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class RecipeError(ValueError):
    """A recipe problem; the message starts with the file and the key."""


@dataclass(frozen=True)
class Take:
    """How many rows of a source: a fraction of it, a count, or a weight of the shared total."""

    mode: str
    value: float
    upsample: bool = False

    def to_dict(self) -> dict:
        out: dict[str, Any] = {self.mode: self.value}
        if self.mode != "fraction":
            out["upsample"] = self.upsample
        return out


@dataclass(frozen=True)
class SourceSpec:
    name: str
    path: str
    take: Take
    skill: str | None = None
    mapping: dict[str, str] | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "skill": self.skill,
            "take": self.take.to_dict(),
        }
        if self.mapping:
            out["mapping"] = dict(self.mapping)
        return out


@dataclass(frozen=True)
class MinhashSpec:
    threshold: float = 0.8
    num_perm: int = 128
    shingle_size: int = 5


@dataclass(frozen=True)
class DedupSpec:
    exact: bool = True
    minhash: MinhashSpec | None = None


@dataclass(frozen=True)
class DecontamSpec:
    """The recipe's `decontaminate:`; the defaults are decontam's own."""

    evals: tuple[str, ...]
    method: str = DecontamConfig.methods[0]
    ngram_size: int = DecontamConfig.ngram_size
    threshold: float = DecontamConfig.threshold
    fields: str = DecontamConfig.fields


@dataclass(frozen=True)
class ShardSpec:
    max_rows: int | None = None
    max_bytes: int | None = DEFAULT_MAX_BYTES
    format: str = "arrow"


@dataclass(frozen=True)
class Recipe:
    name: str
    kind: str
    seed: int
    sources: tuple[SourceSpec, ...]
    total: int | None = None
    tokens: int | None = None
    dedup: DedupSpec = field(default_factory=DedupSpec)
    decontaminate: DecontamSpec | None = None
    shards: ShardSpec = field(default_factory=ShardSpec)
    base_dir: Path = Path(".")
    path: Path | None = None  # the recipe file, when read from one

    def source_path(self, source: SourceSpec) -> str:
        """Where a source is read: hub specs as written, files taken from the recipe's
        folder (normalized). A fact of this run: the manifest records it under `run`."""
        if source.path.startswith(HUB_PREFIX) or Path(source.path).is_absolute():
            return source.path
        return os.path.normpath(self.base_dir / source.path)

    def to_dict(self) -> dict:
        """The resolved recipe (defaults filled in), as recorded in manifest.json."""
        return {
            "name": self.name,
            "kind": self.kind,
            "seed": self.seed,
            "sources": [s.to_dict() for s in self.sources],
            "total": self.total,
            "tokens": self.tokens,
            "dedup": {
                "exact": self.dedup.exact,
                "minhash": asdict(self.dedup.minhash) if self.dedup.minhash else None,
            },
            "decontaminate": (
                {**asdict(self.decontaminate), "evals": list(self.decontaminate.evals)}
                if self.decontaminate
                else None
            ),
            "shards": asdict(self.shards),
        }


class _Checker:
    """Reads one mapping, naming each key in its errors and refusing unknown ones."""

    def __init__(self, origin: str, where: str, value: Any, allowed: tuple[str, ...]) -> None:
        self.origin = origin
        self.where = where
        if not isinstance(value, dict):
            raise self.error(where, f"expected a mapping, got {type(value).__name__}")
        unknown = [k for k in value if k not in allowed]
        if unknown:
            raise self.error(
                f"{self.key(unknown[0])}", f"unknown key (allowed: {', '.join(allowed)})"
            )
        self.value = value

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else str(name)

    def error(self, key: str, problem: str) -> RecipeError:
        return RecipeError(f"{self.origin}: {key}: {problem}")

    def has(self, name: str) -> bool:
        return self.value.get(name) is not None

    def string(self, name: str, *, required: bool = True, choices: tuple[str, ...] = ()) -> Any:
        value = self.value.get(name)
        if value is None:
            if required:
                raise self.error(self.key(name), "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(self.key(name), f"expected a non-empty string, got {value!r}")
        if choices and value not in choices:
            raise self.error(self.key(name), f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def integer(self, name: str, *, minimum: int = 0, required: bool = False) -> Any:
        value = self.value.get(name)
        if value is None:
            if required:
                raise self.error(self.key(name), "missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(self.key(name), f"expected an integer, got {value!r}")
        if value < minimum:
            raise self.error(self.key(name), f"must be at least {minimum}, got {value}")
        return value

    def number(
        self, name: str, *, low: float, high: float = math.inf, low_open: bool = False
    ) -> Any:
        value = self.value.get(name)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.error(self.key(name), f"expected a number, got {value!r}")
        if value < low or (low_open and value == low) or value > high:
            bound = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
            raise self.error(self.key(name), f"must be in {bound}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.value.get(name, default)
        if not isinstance(value, bool):
            raise self.error(self.key(name), f"expected true or false, got {value!r}")
        return value


def _parse_take(c: _Checker, where: str, value: Any) -> Take:
    t = _Checker(c.origin, where, value, (*TAKE_MODES, "upsample"))
    modes = [m for m in TAKE_MODES if m in t.value]
    if len(modes) != 1:
        raise t.error(
            where,
            f"expected exactly one of {', '.join(TAKE_MODES)}, got {', '.join(modes) or 'none'}",
        )
    mode = modes[0]
    if mode == "count":
        amount: float = t.integer("count", minimum=0, required=True)
    elif mode == "fraction":
        amount = t.number("fraction", low=0, low_open=True)
        if "upsample" in t.value:
            raise t.error(
                t.key("upsample"),
                "only for count or weight (a fraction above 1 upsamples by itself)",
            )
    else:
        amount = t.number("weight", low=0)
    if amount is None:
        raise t.error(t.key(mode), "missing a value")
    return Take(mode, amount, t.boolean("upsample", False))


def _normalized(path: str) -> str:
    """A source path as the recipe, the manifest and row lineage record it: hub specs as
    written, file paths without `.` or inner `..` parts (leading `..` stay: the file lies
    outside the recipe's folder)."""
    return path if path.startswith(HUB_PREFIX) else posixpath.normpath(path)


def _parse_source(c: _Checker, index: int, value: Any) -> SourceSpec:
    where = f"sources[{index}]"
    s = _Checker(c.origin, where, value, ("name", "path", "skill", "take", "mapping"))
    name = s.string("name")
    if not NAME_RE.match(name):
        raise s.error(s.key("name"), f"use letters, digits, '_', '.', '-' only, got {name!r}")
    mapping = s.value.get("mapping")
    if mapping is not None and not (
        isinstance(mapping, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
    ):
        raise s.error(s.key("mapping"), "expected a mapping of field names to field names")
    if "take" not in s.value:
        raise s.error(s.key("take"), "missing (e.g. {fraction: 1.0}, {count: 1000}, {weight: 0.5})")
    return SourceSpec(
        name=name,
        path=_normalized(s.string("path")),
        skill=s.string("skill", required=False),
        take=_parse_take(s, s.key("take"), s.value["take"]),
        mapping=mapping,
    )


def _parse_dedup(c: _Checker, value: Any) -> DedupSpec:
    if value is None:
        return DedupSpec()
    d = _Checker(c.origin, "dedup", value, ("exact", "minhash"))
    minhash = d.value.get("minhash")
    if minhash is None or minhash is False:
        spec = None
    elif minhash is True:
        spec = MinhashSpec()
    else:
        m = _Checker(c.origin, "dedup.minhash", minhash, ("threshold", "num_perm", "shingle_size"))
        defaults = MinhashSpec()
        spec = MinhashSpec(
            threshold=m.number("threshold", low=0, high=1, low_open=True) or defaults.threshold,
            num_perm=m.integer("num_perm", minimum=16) or defaults.num_perm,
            shingle_size=m.integer("shingle_size", minimum=1) or defaults.shingle_size,
        )
    return DedupSpec(exact=d.boolean("exact", True), minhash=spec)


def _parse_decontam(c: _Checker, value: Any) -> DecontamSpec | None:
    if value is None or value is False:
        return None
    d = _Checker(
        c.origin, "decontaminate", value, ("evals", "method", "ngram_size", "threshold", "fields")
    )
    evals = d.value.get("evals")
    if (
        not isinstance(evals, list)
        or not evals
        or not all(isinstance(e, str) and e.strip() for e in evals)
    ):
        raise d.error("decontaminate.evals", "expected a non-empty list of eval names or paths")
    defaults = DecontamSpec(evals=())
    threshold = d.number("threshold", low=0, high=1, low_open=True)
    return DecontamSpec(
        evals=tuple(evals),
        method=d.string("method", required=False, choices=DECONTAM_METHODS) or defaults.method,
        ngram_size=d.integer("ngram_size", minimum=1) or defaults.ngram_size,
        threshold=defaults.threshold if threshold is None else threshold,
        fields=d.string("fields", required=False, choices=FIELDS) or defaults.fields,
    )


def _parse_shards(c: _Checker, value: Any) -> ShardSpec:
    if value is None:
        return ShardSpec()
    s = _Checker(c.origin, "shards", value, ("max_rows", "max_bytes", "format"))
    max_rows = s.integer("max_rows", minimum=1)
    max_bytes = s.integer("max_bytes", minimum=1)
    if max_rows is None and max_bytes is None:
        max_bytes = DEFAULT_MAX_BYTES
    fmt = s.string("format", required=False, choices=FORMATS) or "arrow"
    return ShardSpec(max_rows=max_rows, max_bytes=max_bytes, format=fmt)


TOP_KEYS = (
    "name",
    "seed",
    "kind",
    "sources",
    "total",
    "tokens",
    "dedup",
    "decontaminate",
    "shards",
)


def parse_recipe(data: Any, *, origin: str = "recipe", base_dir: str | Path = ".") -> Recipe:
    """A checked Recipe from parsed YAML; RecipeError names the first bad key."""
    c = _Checker(origin, "", data, TOP_KEYS)
    name = c.string("name")
    kind = c.string("kind", choices=KINDS)
    seed = c.integer("seed", minimum=0)
    sources_value = c.value.get("sources")
    if not isinstance(sources_value, list) or not sources_value:
        raise c.error("sources", "expected a non-empty list of sources")
    sources = tuple(_parse_source(c, i, s) for i, s in enumerate(sources_value))
    seen: dict[str, int] = {}
    for i, source in enumerate(sources):
        if source.name in seen:
            raise c.error(
                f"sources[{i}].name",
                f"{source.name!r} is also the name of sources[{seen[source.name]}]",
            )
        seen[source.name] = i
    total = c.integer("total", minimum=0)
    tokens = c.integer("tokens", minimum=1)
    if total is not None and tokens is not None:
        raise c.error("tokens", "set total (rows) or tokens, not both")
    weighted = [i for i, s in enumerate(sources) if s.take.mode == "weight"]
    if weighted and total is None and tokens is None:
        raise c.error(
            "total",
            f"sources[{weighted[0]}] takes a weight, which needs total (rows) or tokens to share",
        )
    if (total is not None or tokens is not None) and not weighted:
        key = "total" if total is not None else "tokens"
        raise c.error(key, "no source takes a weight, so there is nothing to share")
    if weighted and sum(sources[i].take.value for i in weighted) <= 0:
        raise c.error(
            f"sources[{weighted[0]}].take.weight", "the weights must sum to something positive"
        )
    counts = sum(s.take.value for s in sources if s.take.mode == "count")
    if total is not None and counts > total:
        raise c.error("total", f"{total} is less than the fixed counts ({int(counts)})")
    return Recipe(
        name=name,
        kind=kind,
        seed=0 if seed is None else seed,
        sources=sources,
        total=total,
        tokens=tokens,
        dedup=_parse_dedup(c, c.value.get("dedup")),
        decontaminate=_parse_decontam(c, c.value.get("decontaminate")),
        shards=_parse_shards(c, c.value.get("shards")),
        base_dir=Path(base_dir),
    )


def read_recipe_yaml(path: Path) -> Any:
    """The parsed YAML of a recipe file (no aliases, no repeated keys); else RecipeError."""
    try:
        return load_yaml_file(path)
    except YamlFileError as exc:
        raise RecipeError(f"recipe {exc}") from None


def load_recipe(path: str | Path) -> Recipe:
    """Read and check a recipe file; relative source paths are taken from its folder."""
    path = Path(path)
    recipe = parse_recipe(read_recipe_yaml(path), origin=str(path), base_dir=path.resolve().parent)
    return dataclasses.replace(recipe, path=path.resolve())
