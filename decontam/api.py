"""`find_contamination`: the one call behind `skillmix decontam` and the mixer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

from decontam.audit import Audit
from decontam.engine import FIELDS, SEMANTIC, DecontamConfig, expand_methods
from decontam.evaldir import load_eval_dir
from decontam.evalsets import EvalSet, load_eval, parse_eval_spec
from decontam.html_report import write_html
from decontam.index import EvalCorpus
from decontam.report import build_report, write_json, write_tsv
from decontam.semantic import Encoder, Judge, SemanticConfig, SemanticMatcher, SemanticStep
from manifests import Accounting, RejectsWriter, read_rows
from manifests.errors import UsageError
from manifests.rejects import REJECTS_NAME


@dataclass
class ContaminationResult:
    flagged: dict[str, set[str]]  # source -> ids of flagged training rows
    report: dict  # the report.json content
    report_path: Path | None = None
    top_pairs: list[dict] = field(default_factory=list)


def load_evals(
    evals: Iterable[str | EvalSet],
    allow_bad: bool = False,
    eval_dir: str | Path | None = None,
) -> list[EvalSet]:
    """Registry names, local specs, or already loaded `EvalSet`s. Empty texts and
    duplicate ids are errors unless `allow_bad` (then dropped and counted).

    With `eval_dir` (a folder from `skillmix evals pull`), registry names are read from
    there, offline, each file checked against its sha256; when no registry name is given,
    every set in the folder is used (with any local files given). A name not pulled there
    is an error, not a download."""
    evals = list(evals)
    if eval_dir is not None:
        named = [e for e in evals if isinstance(e, str) and parse_eval_spec(e)[1] is None]
        others = [e for e in evals if not (isinstance(e, str) and e in named)]
        pulled = load_eval_dir(eval_dir, named or None)
        sets = pulled + [
            e if isinstance(e, EvalSet) else load_eval(e, allow_bad=allow_bad) for e in others
        ]
    else:
        sets = [e if isinstance(e, EvalSet) else load_eval(e, allow_bad=allow_bad) for e in evals]
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise ValueError(f"two evaluation sets share a name: {names}; use NAME=path:FIELD")
    if not sets:
        raise ValueError("no evaluation set given")
    return sets


def _semantic_step(
    corpus: EvalCorpus,
    config: DecontamConfig,
    encoder: Encoder | str | None,
    judge: Judge | None,
    judge_name: str,
) -> SemanticStep | None:
    if SEMANTIC not in config.methods:
        if encoder is not None or judge is not None:
            raise ValueError(
                "an encoder or a judge was given but the methods do not include 'semantic'"
            )
        return None
    if encoder is None:
        raise ValueError(
            "the semantic method needs an encoder: a local Hugging Face model "
            "folder (--encoder PATH)"
        )
    settings = SemanticConfig(
        top_k=config.semantic_top_k, floor=config.semantic_floor, device=config.semantic_device
    )
    if isinstance(encoder, str):
        name = encoder
        encoder = Encoder(encoder, config=settings)
    else:
        name = type(encoder.model).__name__
        encoder.config = replace(encoder.config, top_k=settings.top_k, floor=settings.floor)
    return SemanticStep(SemanticMatcher(corpus, encoder), judge, name, judge_name)


def find_contamination(
    rows: Iterable[dict],
    evals: list[str | EvalSet],
    *,
    method: str | list[str] = "ngram",
    ngram_size: int = 8,
    threshold: float = 0.5,
    fields: str = "user",
    out_dir: str | Path | None = None,
    remove: bool = False,
    workers: int = 1,
    allow_bad_evals: bool = False,
    eval_dir: str | Path | None = None,
    encoder: Encoder | str | None = None,
    judge: Judge | None = None,
    judge_name: str = "",
    **options: object,
) -> ContaminationResult:
    """Match contract rows against evaluation sets; see docs/decontam.md.

    `threshold` is the `ngram` coverage threshold. Further `DecontamConfig` fields
    (`any_ngram_size`, `max_ngram_rows`, `minhash_threshold`, `num_perm`,
    `shingle_size`, `seed`, `source_threshold`, `batch_size`, `semantic_top_k`,
    `semantic_floor`, `semantic_device`) go in `options`. The `semantic` method needs an
    `encoder` (a local model folder or a `decontam.semantic.Encoder`); a `judge` (pairs ->
    verdicts) then decides which candidates are rephrasings.
    With `out_dir`, writes matches.jsonl, report.json, contamination.tsv and report.html
    there, and with `remove` also kept/<source>.jsonl and removed/<source>.jsonl.
    """
    if fields not in FIELDS:
        raise ValueError(f"fields must be one of {FIELDS}, got {fields!r}")
    config = DecontamConfig(
        methods=expand_methods(method),
        ngram_size=ngram_size,
        threshold=threshold,
        fields=fields,
        workers=workers,
        **options,  # type: ignore[arg-type]
    )
    sets = load_evals(evals, allow_bad_evals, eval_dir)
    corpus = EvalCorpus.from_sets(sets)
    semantic = _semantic_step(corpus, config, encoder, judge, judge_name)
    out = Path(out_dir) if out_dir is not None else None
    audit = Audit(corpus, config, out, remove, semantic)
    state = audit.run(rows)
    report = build_report(corpus, config, state)
    if semantic is not None:
        report["semantic"] = semantic.summary()
    for evalset in sets:
        report["evals"][evalset.name]["dropped"] = dict(evalset.dropped)
        if evalset.provenance:
            report["evals"][evalset.name]["provenance"] = dict(evalset.provenance)
    top = audit.top_pairs()
    report_path = None
    if out is not None:
        report_path = out / "report.json"
        write_json(report, report_path)
        write_tsv(report, out / "contamination.tsv")
        write_html(report, top, out / "report.html")
    flagged = {source: set(state.flagged.get(source, ())) for source in state.rows}
    return ContaminationResult(flagged, report, report_path, top)


def check_arguments(
    evals: list[str | EvalSet],
    *,
    eval_dir: str | Path | None = None,
    method: str | list[str] = "ngram",
    encoder: Encoder | str | None = None,
    judge: Judge | None = None,
    **_options: object,
) -> None:
    """Arguments that do not go together raise `UsageError` before any work is done."""
    if not evals and eval_dir is None:
        raise UsageError("give --eval (repeatable) or --eval-dir")
    semantic = SEMANTIC in expand_methods(method)
    if semantic and encoder is None:
        raise UsageError("--method semantic needs --encoder PATH (a local model folder)")
    if not semantic and (encoder is not None or judge is not None):
        raise UsageError("--encoder and --judge-model apply to --method semantic only")


def decontaminate_files(
    train: Iterable[str | Path],
    evals: list[str | EvalSet],
    out_dir: str | Path,
    *,
    on_bad_row: str = "error",
    **kwargs: object,
) -> tuple[ContaminationResult, Accounting]:
    """`find_contamination` over training files read with `manifests.read_rows`.

    Bad rows stop the run (`on_bad_row="error"`) or go to out_dir/rejects.jsonl. The
    returned accounting covers every row read: in = kept + removed + rejected.
    """
    check_arguments(evals, **kwargs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    read_acc = Accounting()
    with RejectsWriter(out / REJECTS_NAME) as rejects:
        rows = chain.from_iterable(
            read_rows(path, on_bad_row=on_bad_row, rejects=rejects, accounting=read_acc)
            for path in train
        )
        result = find_contamination(rows, evals, out_dir=out, **kwargs)  # type: ignore[arg-type]
    done = result.report["accounting"]
    total = read_acc.then(Accounting.from_dict(done))
    result.report["accounting"] = total.to_dict()
    write_json(result.report, out / "report.json")
    return result, total
