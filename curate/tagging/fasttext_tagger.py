"""Skill tagging with a fastText classifier: train on labeled rows, tag unlabeled pools.

fastText pin: `fasttext-wheel==0.9.2`. fastText built from source with gcc 12 trains to
NaN; this prebuilt wheel trains correctly, but its Python `predict()` fails on NumPy 2
("Unable to avoid copy"), so predictions go through the low-level `model.f.predict`.
The model's size (buckets, dimension, quantization) follows the data: `sizing.py`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from curate.tagging.sizing import NgramCounter, choose_size
from manifests import (
    Accounting,
    RejectsWriter,
    canonical_json,
    detect_kind,
    read_rows,
    row_text,
    write_rows,
)
from manifests.atomic import atomic_path, atomic_write_text
from manifests.progress import Progress, bars_enabled, track
from manifests.rejects import rejects_path_for

LABEL = "__label__"


@dataclass(frozen=True)
class TagTrainConfig:
    valid_fraction: float = 0.2
    seed: int = 0
    epoch: int = 25
    lr: float = 0.5
    word_ngrams: int = 2
    dim: int | None = None  # None: a few per label (sizing.py)
    min_count: int = 1
    fields: str = "user"  # which turns are the text: "user" or "all"
    # hashed n-gram rows; the model holds (words + bucket) x dim floats. None: a few times
    # the distinct word n-grams of the training text (sizing.py)
    bucket: int | None = None
    quantize: bool | None = None  # None: only when the plain model would be large


@dataclass
class SkillScore:
    precision: float
    recall: float
    f1: float
    support: int  # held-out rows with this true label


@dataclass
class TagReport:
    train_rows: int
    valid_rows: int
    accuracy: float
    per_skill: dict[str, SkillScore] = field(default_factory=dict)
    accounting: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)  # the size settings used, and the file's bytes

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        lines = [
            f"held-out rows {self.valid_rows} (trained on {self.train_rows}), "
            f"accuracy {self.accuracy:.3f}",
            f"{'skill':<16} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}",
        ]
        for skill, s in sorted(self.per_skill.items()):
            lines.append(
                f"{skill:<16} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.support:>7}"
            )
        return "\n".join(lines)


def clean_text(text: str) -> str:
    """One line, lowercased: fastText reads a line per example."""
    return " ".join(text.lower().split())


def in_valid_split(row_id: str, fraction: float, seed: int) -> bool:
    """Deterministic held-out membership from the row id (independent of row order)."""
    digest = hashlib.sha256(f"{seed}:{row_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _check_label(skill: str) -> str:
    if not skill or any(ch.isspace() for ch in skill):
        raise ValueError(f"skill label {skill!r} must be non-empty without white space")
    return skill


def predict(model, text: str, k: int = 1) -> list[tuple[str, float]]:
    """(label, probability) pairs, best first."""
    pairs = model.f.predict(clean_text(text) + "\n", k, 0.0, "strict")
    return [(label.removeprefix(LABEL), float(prob)) for prob, label in pairs]


def score(truth: list[str], predicted: list[str]) -> tuple[float, dict[str, SkillScore]]:
    labels = sorted(set(truth) | set(predicted))
    hits = Counter(t for t, p in zip(truth, predicted, strict=True) if t == p)
    true_n, pred_n = Counter(truth), Counter(predicted)
    per = {}
    for label in labels:
        p = hits[label] / pred_n[label] if pred_n[label] else 0.0
        r = hits[label] / true_n[label] if true_n[label] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        per[label] = SkillScore(round(p, 4), round(r, 4), round(f1, 4), true_n[label])
    accuracy = sum(hits.values()) / len(truth) if truth else 0.0
    return round(accuracy, 4), per


@contextlib.contextmanager
def _training_file() -> Iterator[tuple[IO[str], str]]:
    """A text file fastText can open by path, gone when the block ends or the process dies.

    On Linux an anonymous in-memory file (memfd) opened through /proc: a kill -9 leaves
    nothing on disk. Elsewhere (or without /proc) a file in the system temp dir, removed
    on exit.
    """
    if hasattr(os, "memfd_create") and sys.platform.startswith("linux"):
        fd = os.memfd_create("skillmix-tagger-train")
        path = f"/proc/{os.getpid()}/fd/{fd}"
        if os.path.exists(path):
            with open(fd, "w", encoding="utf-8") as fh:
                yield fh, path
            return
        os.close(fd)
    with tempfile.TemporaryDirectory(prefix="skillmix-tagger-") as tmp:
        path = Path(tmp) / "train.txt"
        with path.open("w", encoding="utf-8") as fh:
            yield fh, str(path)


def train_tagger(
    labeled: str | Path,
    out_model: str | Path,
    config: TagTrainConfig = TagTrainConfig(),
    *,
    on_bad_row: str = "error",
    rejects_path: str | Path | None = None,
) -> TagReport:
    """Train on the rows of `labeled` (their `skill` is the label), report per-skill
    precision/recall on a held-out split, save the model and `<model>.report.json`."""
    import fasttext

    read_acc, acc = Accounting(), Accounting()
    valid: list[tuple[str, str]] = []
    out_model = Path(out_model)
    out_model.parent.mkdir(parents=True, exist_ok=True)
    rejects_file = rejects_path or rejects_path_for(out_model)
    ngrams, labels = NgramCounter(config.word_ngrams), set()
    with (
        _training_file() as (fh, train_path),
        RejectsWriter(rejects_file) as rejects,
        Progress(desc="tag train: read", unit="row") as bar,
    ):
        n_train = 0
        for row in read_rows(labeled, on_bad_row=on_bad_row, rejects=rejects, accounting=read_acc):
            acc.add_in()
            bar.update()
            text = clean_text(row_text(row, config.fields))
            if not text:
                acc.remove("empty_text")
                continue
            label = _check_label(row["skill"])
            acc.add_out()
            if in_valid_split(row["id"], config.valid_fraction, config.seed):
                valid.append((label, text))
            else:
                fh.write(f"{LABEL}{label} {text}\n")
                ngrams.add(text)
                labels.add(label)
                n_train += 1
        fh.flush()
        bar.close()
        if n_train == 0:
            raise ValueError(f"{labeled}: no training rows left after the held-out split")
        size = choose_size(
            ngrams, labels, bucket=config.bucket, dim=config.dim, quantize=config.quantize
        )
        model = fasttext.train_supervised(
            input=train_path,
            epoch=config.epoch,
            lr=config.lr,
            wordNgrams=config.word_ngrams,
            dim=size.dim,
            minCount=config.min_count,
            bucket=size.bucket,
            thread=1,
            seed=config.seed,
            verbose=2 if bars_enabled() else 0,  # fastText's own bar (progress, loss, ETA)
        )
    if size.quantize:
        _quantize(model, labeled)
    with atomic_path(out_model) as tmp:  # a killed run leaves no half model under the name
        model.save_model(str(tmp))
    truth = [label for label, _ in valid]
    predicted = [predict(model, text)[0][0] for _, text in valid]
    accuracy, per_skill = score(truth, predicted)
    total = read_acc.then(acc)
    model_facts = {**size.to_dict(), "bytes": out_model.stat().st_size}
    report = TagReport(n_train, len(valid), accuracy, per_skill, total.to_dict(), model_facts)
    report_path = Path(str(out_model) + ".report.json")
    atomic_write_text(report_path, json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n")
    return report


def _quantize(model, labeled: str | Path) -> None:
    # qnorm keeps each vector's norm apart from its direction: better quality at 1 byte more.
    try:
        model.quantize(qnorm=True, retrain=False, cutoff=0)
    except ValueError as exc:  # fastText: "Matrix too small for quantization, ..."
        raise ValueError(
            f"{labeled}: cannot quantize the tagger ({exc}); train more data, a larger "
            "bucket, or quantize off"
        ) from None


def tag_rows(
    rows: Iterable[dict], model, model_name: str, min_confidence: float, accounting: Accounting
) -> Iterator[dict]:
    """Set each row's `skill` to the predicted label (when confident enough) and record
    the prediction and its confidence in the metadata."""
    for row in rows:
        accounting.add_in()
        label, confidence = predict(model, row_text(row, "user"))[0]
        meta = json.loads(row.get("metadata") or "{}")
        meta.update(
            skill_predicted=label,
            skill_confidence=round(confidence, 4),
            skill_tagger=model_name,
            skill_before_tagging=row["skill"],
        )
        out = dict(row)
        if confidence >= min_confidence:
            out["skill"] = label
        out["metadata"] = canonical_json(meta)
        accounting.add_out()
        yield out


def apply_tagger(
    model_path: str | Path,
    in_path: str | Path,
    out_path: str | Path,
    *,
    min_confidence: float = 0.0,
    kind: str | None = None,
    on_bad_row: str = "error",
    rejects_path: str | Path | None = None,
    lineage: str | None = None,
) -> Accounting:
    """Tag every row of `in_path`; `lineage`: the file name rows record (read_rows)."""
    import fasttext

    model = fasttext.load_model(str(model_path))
    read_acc, acc = Accounting(), Accounting()
    rejects_file = rejects_path or rejects_path_for(out_path)
    with RejectsWriter(rejects_file) as rejects:
        rows = read_rows(
            in_path,
            kind,
            on_bad_row=on_bad_row,
            rejects=rejects,
            accounting=read_acc,
            lineage=lineage,
        )
        first = next(rows, None)
        if first is None:
            write_rows([], out_path, kind or "sft")
        else:
            out_kind = detect_kind(first)
            rows_all = _chain_first(first, rows)
            tagged = tag_rows(rows_all, model, Path(model_path).name, min_confidence, acc)
            write_rows(track(tagged, desc="tag: apply"), out_path, out_kind)
    return read_acc.then(acc)


def _chain_first(first: dict, rest: Iterator[dict]) -> Iterator[dict]:
    yield first
    yield from rest
