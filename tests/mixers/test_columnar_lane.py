"""The vectorized lane for Parquet sources must give what manifests.read_rows gives."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manifests import NoValidRowsError, RejectsWriter, RowGate, read_rows
from manifests.schemas import MESSAGES_TYPE
from mixers.columnar import columnar_source
from mixers.lanes import columnar_tables

TEXT = st.sampled_from(["", " ", "hello", "What is 2+2?", "  spaced  ", "Ünïcode ✓"])
ROLE = st.sampled_from(["user", "assistant", "system", "tool", "narrator", None])
MESSAGE = st.fixed_dictionaries({"role": ROLE, "content": st.one_of(TEXT, st.none())})
METADATA = st.one_of(
    st.none(),
    st.just(""),
    st.just("{}"),
    st.just('{"file":"x.jsonl","row":3}'),
    st.just('{"note":"n"}'),
    st.just("[1, 2]"),
    st.just('{"row": 1, "file": "y"}'),
)


def rows_strategy(kind: str):
    common = {
        "id": st.one_of(st.none(), st.just(""), st.just(" "), st.sampled_from(["a", "b", "c"])),
        "source": st.one_of(st.none(), st.just("orig")),
        "skill": st.one_of(st.none(), st.just(""), st.just("  "), st.just("math")),
        "metadata": METADATA,
    }
    for field in ("chosen", "rejected") if kind == "preference" else ("messages",):
        common[field] = st.one_of(st.none(), st.lists(MESSAGE, max_size=4))
    if kind == "rlvr":
        common["ground_truth"] = st.one_of(st.none(), TEXT)
        common["verifier"] = st.one_of(st.none(), st.sampled_from(["gsm8k", "GSM8K", "", "math"]))
    return st.lists(st.fixed_dictionaries(common), min_size=1, max_size=12)


def schema(kind: str) -> pa.Schema:
    fields = [("id", pa.string()), ("source", pa.string()), ("skill", pa.string())]
    if kind == "preference":
        fields += [("chosen", MESSAGES_TYPE), ("rejected", MESSAGES_TYPE)]
    else:
        fields += [("messages", MESSAGES_TYPE)]
    if kind == "rlvr":
        fields += [("ground_truth", pa.string()), ("verifier", pa.string())]
    return pa.schema([*fields, ("metadata", pa.string())])


def both_lanes(tmp_path, kind, rows, skill):
    path = tmp_path / f"{kind}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema(kind)), path)
    source = columnar_source(str(path), kind)
    assert source is not None  # the fast lane applies to this file
    # Each lane gives its rows, or "no valid rows" when it rejected every one.
    fast_rejects = RejectsWriter(tmp_path / "fast.jsonl")
    gate = RowGate("skip", fast_rejects)
    fast = [
        r
        for t in columnar_tables(source, kind, name="src", skill=skill, gate=gate)
        for r in t.to_pylist()
    ]
    try:
        gate.finish(str(path))
    except NoValidRowsError:
        fast = "no valid rows"
    fast_rejects.close()
    slow_rejects = RejectsWriter(tmp_path / "slow.jsonl")
    try:
        slow = list(
            read_rows(
                str(path), kind, source="src", skill=skill, on_bad_row="skip", rejects=slow_rejects
            )
        )
    except NoValidRowsError:
        slow = "no valid rows"
    slow_rejects.close()

    def reasons(p):
        if not p.exists():
            return []
        return [(r["row"], r["reason"]) for r in map(json.loads, p.read_text().splitlines())]

    return fast, slow, reasons(tmp_path / "fast.jsonl"), reasons(tmp_path / "slow.jsonl")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(["sft", "rlvr", "preference"]), st.data(), st.sampled_from([None, "chat"]))
def test_fast_lane_equals_read_rows(tmp_path, kind, data, skill):
    rows = data.draw(rows_strategy(kind))
    fast, slow, fast_why, slow_why = both_lanes(tmp_path, kind, rows, skill)
    assert fast == slow
    assert fast_why == slow_why
