"""report.json and contamination.tsv from an audit's books."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from decontam.audit import AuditState
from decontam.engine import DecontamConfig
from decontam.index import EvalCorpus
from decontam.spans import KINDS
from manifests.atomic import atomic_write_text


def _per_eval(corpus: EvalCorpus, instances: set[int]) -> np.ndarray:
    """How many of `instances` fall in each evaluation set."""
    return np.bincount(
        corpus.eval_of[np.fromiter(instances, np.int64, len(instances))],
        minlength=len(corpus.names),
    )


def _matrix(corpus: EvalCorpus, by_source: dict[str, set[int]], sources: list[str]) -> dict:
    sizes = np.maximum(np.bincount(corpus.eval_of, minlength=len(corpus.names)), 1)
    out = {}
    for source in sources:
        shares = _per_eval(corpus, by_source.get(source, set())) / sizes
        out[source] = {
            name: round(float(s), 6) for name, s in zip(corpus.names, shares, strict=True)
        }
    return out


def _instances(corpus: EvalCorpus, config: DecontamConfig, state: AuditState) -> list[dict]:
    """One entry per contaminated instance: rows holding it, by source and by kind."""
    cap = config.max_ngram_rows
    out = []
    for inst, sources in state.inst_sources.items():
        rows = sum(sources.values())
        kinds = state.inst_kinds[inst]
        out.append(
            {
                "eval": corpus.names[corpus.eval_of[inst]],
                "eval_id": corpus.ids[inst],
                "rows": rows,
                "by_kind": {k: kinds.get(k, 0) for k in KINDS},
                "sources": dict(sources.most_common()),
                # pasted into more rows than ngram-any's commonness cap: still flagged, named
                "mass_copied": cap is not None and rows > cap,
            }
        )
    out.sort(key=lambda e: (-e["rows"], e["eval"], e["eval_id"]))
    return out


def _kind_counts(instances: list[dict], names: list[str]) -> dict[str, dict[str, int]]:
    """Per eval set: instances whose best match anywhere is of each kind."""
    out = {name: dict.fromkeys(KINDS, 0) for name in names}
    for entry in instances:
        best = next(k for k in KINDS if entry["by_kind"][k])
        out[entry["eval"]][best] += 1
    return out


def build_report(corpus: EvalCorpus, config: DecontamConfig, state: AuditState) -> dict:
    sources = sorted(state.rows)
    union: dict[str, set[int]] = {s: set() for s in sources}
    for by_source in state.hits.values():
        for source, instances in by_source.items():
            union[source] |= instances
    matrix = _matrix(corpus, union, sources)
    everywhere = set().union(*union.values()) if union else set()
    contaminated_evals = _per_eval(corpus, everywhere)
    instances = _instances(corpus, config, state)
    kinds = _kind_counts(instances, corpus.names)
    evals = {}
    for index, (name, size) in enumerate(corpus.sizes().items()):
        by_method = {
            method: int(_per_eval(corpus, set().union(*state.hits[method].values()))[index])
            if state.hits.get(method)
            else 0
            for method in config.methods
        }
        evals[name] = {
            "instances": size,
            "contaminated": int(contaminated_evals[index]),
            "contaminated_share": round(int(contaminated_evals[index]) / max(size, 1), 6),
            "by_method": by_method,
            "by_kind": kinds[name],  # instances by their best kind of match
            "mass_copied": sum(1 for e in instances if e["eval"] == name and e["mass_copied"]),
        }
    source_report = {}
    for source in sources:
        flagged = state.flagged_rows[source]
        source_report[source] = {
            "rows": state.rows[source],
            "flagged": flagged,
            "kept": state.rows[source] - flagged,
            "flagged_by_method": {
                m: state.flagged_by_method.get(m, {}).get(source, 0) for m in config.methods
            },
            # flagged rows by the best kind of match each holds
            "flagged_by_kind": {k: state.source_kinds[source].get(k, 0) for k in KINDS},
            "contaminated_evals": [
                name for name, share in matrix[source].items() if share > config.source_threshold
            ],
        }
    return {
        "config": {**asdict(config), "methods": list(config.methods)},
        "evals": evals,
        "sources": source_report,
        "matrix": matrix,
        "by_method": {
            method: {"matrix": _matrix(corpus, state.hits.get(method, {}), sources)}
            for method in config.methods
        },
        "contaminated_pairs": [
            {"source": s, "eval": e, "share": share}
            for s in sources
            for e, share in matrix[s].items()
            if share > config.source_threshold
        ],
        "matches": state.match_count,
        "flagged_rows_by_kind": {k: state.rows_by_kind.get(k, 0) for k in KINDS},
        "instances": instances,
        "accounting": state.accounting.to_dict(),
    }


def write_tsv(report: dict, path: Path) -> None:
    """The source x eval matrix: one row per source, one column per evaluation set; and
    beside it `instances.tsv`: one line per contaminated instance with rows by kind."""
    evals = list(report["evals"])
    lines = ["source\t" + "\t".join(evals)]
    for source, shares in report["matrix"].items():
        lines.append(source + "\t" + "\t".join(f"{shares[e]:.4f}" for e in evals))
    atomic_write_text(path, "\n".join(lines) + "\n")
    head = ["eval", "eval_id", "rows", *KINDS, "mass_copied", "sources"]
    out = ["\t".join(head)]
    for e in report.get("instances", []):
        sources = ",".join(f"{s}:{n}" for s, n in e["sources"].items())
        cells = [
            e["eval"],
            e["eval_id"],
            str(e["rows"]),
            *(str(e["by_kind"][k]) for k in KINDS),
            str(e["mass_copied"]).lower(),
            sources,
        ]
        out.append("\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells))
    atomic_write_text(path.parent / "instances.tsv", "\n".join(out) + "\n")


def write_json(report: dict, path: Path) -> None:
    atomic_write_text(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
