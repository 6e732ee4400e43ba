"""Any valid row written in any supported format reads back equal (hypothesis)."""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manifests import read_rows, schema_for, validate_row, write_rows
from manifests.ids import canonical_json

FORMATS = ["r.jsonl", "r.jsonl.gz", "r.jsonl.zst", "r.parquet", "r.arrow", "r.csv", "rdir"]

# Text with any Unicode but lone surrogates (not encodable) and NUL-free CSV-safe content.
text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
nonblank = text.filter(lambda s: s.strip() != "")
_ids = itertools.count()


def message(role: str):
    return st.builds(lambda c: {"role": role, "content": c}, text)


def conversation(last: str = "assistant"):
    turns = st.lists(st.tuples(message("user"), message("assistant")), min_size=1, max_size=3)
    system = st.lists(message("system"), max_size=1)
    return st.builds(lambda s, t: s + [m for pair in t for m in pair], system, turns)


metadata = st.dictionaries(
    st.sampled_from(["persona", "template", "model", "file", "row"]),
    st.one_of(text, st.integers(0, 10**6)),
    max_size=3,
)


def head():
    return {
        "id": st.builds(lambda s: f"{next(_ids)}-{s}", text),
        "source": nonblank,
        "skill": nonblank,
        "metadata": metadata.map(canonical_json),
    }


ROW_STRATEGIES = {
    "sft": st.fixed_dictionaries({**head(), "messages": conversation()}),
    "preference": st.fixed_dictionaries(
        {**head(), "chosen": conversation(), "rejected": conversation()}
    ),
    "rlvr": st.fixed_dictionaries(
        {
            **head(),
            "messages": st.lists(message("user"), min_size=1, max_size=2),
            "ground_truth": nonblank,
            "verifier": st.sampled_from(["gsm8k", "math", "ifeval"]),
        }
    ),
}


def ordered(row: dict, kind: str) -> dict:
    return {name: row[name] for name in schema_for(kind).names}


def check_roundtrip(rows: list[dict], kind: str) -> None:
    rows = [ordered(r, kind) for r in rows]
    for r in rows:
        validate_row(r, kind)
    with tempfile.TemporaryDirectory() as tmp:
        for name in FORMATS:
            path = Path(tmp) / name
            write_rows(rows, path, kind)
            back = list(read_rows(path, kind))
            # Lineage is filled in only where missing, so rows that had it come back equal.
            for original, read in zip(rows, back, strict=True):
                assert read == original, name


def _with_lineage(row: dict) -> dict:
    meta = json.loads(row["metadata"])
    meta.setdefault("file", "origin.jsonl")
    meta.setdefault("row", 1)
    return {**row, "metadata": canonical_json(meta)}


def rows_of(kind: str):
    return st.lists(ROW_STRATEGIES[kind].map(_with_lineage), min_size=1, max_size=5)


ROUNDTRIP = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ROUNDTRIP
@given(rows_of("sft"))
def test_roundtrip_sft(rows):
    check_roundtrip(rows, "sft")


@ROUNDTRIP
@given(rows_of("preference"))
def test_roundtrip_preference(rows):
    check_roundtrip(rows, "preference")


@ROUNDTRIP
@given(rows_of("rlvr"))
def test_roundtrip_rlvr(rows):
    check_roundtrip(rows, "rlvr")
