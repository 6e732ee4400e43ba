"""Malformed inputs in every format: a clear error by default, rejects with skip."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from manifests import Accounting, BadRowError, RejectsWriter, read_rows

GOOD = {"instruction": "Add 2 and 3.", "output": "5"}


def write_jsonl_lines(path: Path, lines: list[bytes]) -> Path:
    data = b"".join(line + b"\n" for line in lines)
    if path.suffix == ".gz":
        data = gzip.compress(data)
    elif path.suffix == ".zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def jsonl_with_bad_rows(path: Path) -> Path:
    return write_jsonl_lines(
        path,
        [
            json.dumps(GOOD).encode(),
            b'{"instruction": "broken", ',  # malformed JSON
            json.dumps({"instruction": "no output"}).encode(),  # missing field
            b'{"instruction": "caf\xe9", "output": "x"}',  # bad UTF-8 (latin-1 byte)
            json.dumps({"messages": 7}).encode(),  # wrong type
            b"[1, 2]",  # not an object
            json.dumps(GOOD | {"output": "6"}).encode(),
        ],
    )


def collect(path: Path, tmp_path: Path, **kw):
    acc = Accounting()
    with RejectsWriter(tmp_path / "rejects.jsonl") as rejects:
        rows = list(
            read_rows(path, "sft", on_bad_row="skip", rejects=rejects, accounting=acc, **kw)
        )
    lines = (tmp_path / "rejects.jsonl").read_text().splitlines() if rejects.count else []
    return rows, acc, [json.loads(line) for line in lines]


@pytest.mark.parametrize("name", ["data.jsonl", "data.jsonl.gz", "data.jsonl.zst"])
def test_jsonl_bad_rows_are_rejected_with_reasons(tmp_path, name):
    path = jsonl_with_bad_rows(tmp_path / name)
    rows, acc, rejects = collect(path, tmp_path)
    assert [r["messages"][1]["content"] for r in rows] == ["5", "6"]
    assert (acc.rows_in, acc.rows_out, acc.rejected) == (7, 2, 5)
    assert acc.rows_in == acc.rows_out + acc.rejected
    acc.check()
    assert [r["row"] for r in rejects] == [2, 3, 4, 5, 6]
    reasons = [r["reason"] for r in rejects]
    assert "malformed JSON" in reasons[0]
    assert "'output'" in reasons[1]
    assert "UTF-8" in reasons[2]
    assert "'messages'" in reasons[3]
    assert "JSON object" in reasons[4]
    assert all(r["file"] == str(path) for r in rejects)


@pytest.mark.parametrize("name", ["data.jsonl", "data.jsonl.gz", "data.jsonl.zst"])
def test_jsonl_bad_row_stops_with_file_and_line(tmp_path, name):
    path = jsonl_with_bad_rows(tmp_path / name)
    with pytest.raises(BadRowError) as info:
        list(read_rows(path, "sft"))
    assert (info.value.file, info.value.row) == (str(path), 2)
    assert str(path) in str(info.value) and "row 2" in str(info.value)


def write_columnar(table: pa.Table, path: Path) -> Path:
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        with pa.ipc.new_file(path, table.schema) as writer:
            writer.write_table(table)
    return path


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_columnar_bad_rows(tmp_path, fmt):
    table = pa.Table.from_pylist(
        [
            {"messages": None, **GOOD},
            {"messages": None, "instruction": "no output", "output": None},
            {"messages": "not json", "instruction": "x", "output": "y"},
        ]
    )
    path = write_columnar(table, tmp_path / f"data.{fmt}")
    with pytest.raises(BadRowError) as info:
        list(read_rows(path, "sft"))
    assert info.value.row == 1 and "'output'" in info.value.problem
    rows, acc, rejects = collect(path, tmp_path)
    assert len(rows) == 1 and rows[0]["messages"][1]["content"] == "5"
    assert [r["row"] for r in rejects] == [1, 2]
    assert "'messages'" in rejects[1]["reason"]
    assert acc.rows_in == acc.rows_out + acc.rejected == 3


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_columnar_missing_value_and_wrong_type(tmp_path, fmt):
    table = pa.Table.from_pylist(
        [
            {"instruction": "a", "output": "b"},
            {"instruction": "c", "output": None},
            {"instruction": "e", "output": "f"},
        ]
    )
    path = write_columnar(table, tmp_path / f"d.{fmt}")
    rows, acc, rejects = collect(path, tmp_path)
    assert len(rows) == 2 and acc.rejected == 1
    assert rejects[0]["row"] == 1 and "'output'" in rejects[0]["reason"]


def test_csv_bad_utf8_and_wrong_field_count(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(
        b'instruction,output\nAdd 2 and 3.,5\ncaf\xe9,x\none,two,three\n"multi\nline",ok\n'
    )
    rows, acc, rejects = collect(path, tmp_path)
    assert [r["messages"][0]["content"] for r in rows] == ["Add 2 and 3.", "multi\nline"]
    assert [r["row"] for r in rejects] == [3, 4]
    assert "UTF-8" in rejects[0]["reason"] and "3 fields" in rejects[1]["reason"]
    assert acc.rows_in == acc.rows_out + acc.rejected == 4


@pytest.mark.parametrize("name", ["e.jsonl", "e.jsonl.gz", "e.csv", "e.parquet", "e.arrow"])
def test_empty_input_is_an_error_naming_the_file(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(b""))
    elif name.endswith(".csv"):
        path.write_text("instruction,output\n")
    elif name.endswith(".parquet"):
        pq.write_table(pa.table({"instruction": pa.array([], pa.string())}), path)
    elif name.endswith(".arrow"):
        schema = pa.schema([("instruction", pa.string())])
        with pa.ipc.new_file(path, schema):
            pass
    else:
        path.write_text("")
    with pytest.raises(BadRowError, match="empty") as info:
        list(read_rows(path, "sft", on_bad_row="skip", rejects=RejectsWriter(tmp_path / "r")))
    assert info.value.file == str(path) and info.value.row is None


def test_not_a_parquet_file(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_text("this is text")
    with pytest.raises(BadRowError, match="Parquet"):
        list(read_rows(path))


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(BadRowError, match="no such file"):
        list(read_rows(tmp_path / "nope.jsonl"))
    odd = tmp_path / "x.xlsx"
    odd.write_text("x")
    with pytest.raises(BadRowError, match="unknown file type"):
        list(read_rows(odd))


def test_skip_needs_a_rejects_file(tmp_path):
    path = jsonl_with_bad_rows(tmp_path / "d.jsonl")
    with pytest.raises(ValueError, match="RejectsWriter"):
        list(read_rows(path, on_bad_row="skip"))


def test_lone_surrogates_in_a_json_array_are_rejected_and_the_reject_is_writable(tmp_path):
    path = tmp_path / "rows.json"
    rows = [GOOD, {"instruction": "x", "output": "y"}, GOOD | {"output": "7"}]
    text = json.dumps(rows).replace('"x"', '"\\ud800x"')
    path.write_text(text)
    kept, acc, rejects = collect(path, tmp_path)
    assert [r["messages"][-1]["content"] for r in kept] == ["5", "7"]
    assert acc.rejected == 1 and "lone surrogate" in rejects[0]["reason"]
    emoji = tmp_path / "emoji.json"  # a surrogate pair is a real character: kept
    emoji.write_text(json.dumps([GOOD | {"output": "\U0001f600"}]))
    assert collect(emoji, tmp_path / "e")[0][0]["messages"][-1]["content"] == "\U0001f600"


def test_zstd_with_several_frames_reads_whole_and_a_cut_frame_is_named(tmp_path):
    lines = [json.dumps(GOOD | {"output": str(i)}).encode() for i in range(3000)]
    frames = b"".join(
        zstandard.ZstdCompressor().compress(b"".join(x + b"\n" for x in part))
        for part in (lines[:1000], lines[1000:2500], lines[2500:])
    )
    whole = tmp_path / "frames.jsonl.zst"
    whole.write_bytes(frames)
    assert len(collect(whole, tmp_path)[0]) == 3000
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(frames[:-20])
    with pytest.raises(BadRowError, match=r"cut\.jsonl\.zst: damaged or truncated .*zstd frame"):
        list(read_rows(cut, "sft"))
