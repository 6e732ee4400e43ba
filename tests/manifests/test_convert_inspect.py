"""The file-level room functions behind `skillmix inspect` and `skillmix convert`:
inspect_inputs, convert_file and export_file (bad rows, rejects, non-ASCII, all rejected)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from manifests import BadRowError, NoValidRowsError, read_rows
from manifests.convert import convert_file, export_file
from manifests.errors import UsageError
from manifests.stats import inspect_inputs

GOOD = [
    {"prompt": "Wie groß ist der Bär?", "completion": "Sehr groß."},
    {"prompt": "数学の問題です", "completion": "答えは 42"},
    {"prompt": "plain", "completion": "ascii"},
]
RLVR = [
    {
        "messages": [{"role": "user", "content": f"Combien font {i} + {i} ? ✓"}],
        "ground_truth": str(2 * i),
        "dataset": "gsm8k",
    }
    for i in range(3)
]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def rows_file(tmp_path: Path, rows: list[dict], name: str = "in.jsonl") -> Path:
    return write_lines(tmp_path / name, [json.dumps(r, ensure_ascii=False) for r in rows])


def with_bad_rows(tmp_path: Path, rows: list[dict]) -> Path:
    """`rows` with a malformed line after the first and a row missing its answer at the end."""
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    return write_lines(tmp_path / "bad.jsonl", [lines[0], "{oops", *lines[1:], '{"prompt": "x"}'])


def rejects_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# inspect_inputs


def test_inspect_counts_rows_kinds_and_non_ascii_characters(tmp_path):
    src = rows_file(tmp_path, GOOD)
    found = inspect_inputs([src, src], rejects=tmp_path / "rejects.jsonl")
    assert found.stats["rows"] == 6 and found.stats["kinds"] == {"sft": 6}
    chars = [len(f"{r['prompt']}\n{r['completion']}") for r in GOOD]  # code points, not bytes
    assert found.stats["chars"]["total"] == 2 * sum(chars)
    assert found.stats["chars"]["min"] == min(chars)
    assert found.stats["turns"]["mean"] == 2.0
    assert found.stats["tokens"] is None
    assert found.accounting.to_dict() == found.stats["accounting"]
    assert (found.accounting.rows_in, found.accounting.rows_out) == (6, 6)
    assert found.rejects_path is None and not (tmp_path / "rejects.jsonl").exists()


def test_inspect_stops_at_a_bad_row_naming_file_and_row(tmp_path):
    src = with_bad_rows(tmp_path, GOOD)
    with pytest.raises(BadRowError) as err:
        inspect_inputs([src], rejects=tmp_path / "rejects.jsonl")
    assert (err.value.file, err.value.row) == (str(src), 2)
    assert "malformed JSON" in str(err.value)


def test_inspect_skips_bad_rows_into_the_rejects_file(tmp_path):
    src = with_bad_rows(tmp_path, GOOD)
    found = inspect_inputs([src], on_bad_row="skip", rejects=tmp_path / "r.jsonl")
    assert found.stats["rows"] == 3
    acc = found.accounting
    assert (acc.rows_in, acc.rows_out, acc.rejected) == (5, 3, 2) and acc.balanced()
    assert found.rejects_path == tmp_path / "r.jsonl"
    assert [r["row"] for r in rejects_of(found.rejects_path)] == [2, 5]


def test_inspect_with_every_row_rejected_is_an_error(tmp_path):
    src = write_lines(tmp_path / "junk.jsonl", ["{oops", '{"neither": "prompt nor messages"}'])
    with pytest.raises(NoValidRowsError) as err:
        inspect_inputs([src], on_bad_row="skip", rejects=tmp_path / "r.jsonl")
    assert err.value.rejected == 2 and str(src) in str(err.value)
    assert len(rejects_of(tmp_path / "r.jsonl")) == 2


# convert_file


def test_convert_writes_the_contract_and_keeps_non_ascii_text(tmp_path):
    out = tmp_path / "out.parquet"
    written = convert_file(rows_file(tmp_path, GOOD), out, source="demo", skill="math")
    assert (written.path, written.kind, written.rows, written.layout) == (
        out,
        "sft",
        3,
        "contract",
    )
    assert written.rejects_path is None and written.accounting.balanced()
    rows = list(read_rows(out))
    assert [r["messages"][0]["content"] for r in rows] == [r["prompt"] for r in GOOD]
    assert {r["source"] for r in rows} == {"demo"} and {r["skill"] for r in rows} == {"math"}


def test_convert_stops_at_a_bad_row_and_leaves_no_output(tmp_path):
    src = with_bad_rows(tmp_path, GOOD)
    out = tmp_path / "out.jsonl"
    with pytest.raises(BadRowError) as err:
        convert_file(src, out)
    assert (err.value.file, err.value.row) == (str(src), 2)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad.jsonl"]


def test_convert_skips_bad_rows_beside_the_output(tmp_path):
    out = tmp_path / "o" / "out.jsonl"
    written = convert_file(with_bad_rows(tmp_path, GOOD), out, on_bad_row="skip")
    assert written.rows == 3 and written.accounting.rejected == 2
    assert written.rejects_path == tmp_path / "o" / "rejects.jsonl"
    reasons = [r["reason"] for r in rejects_of(written.rejects_path)]
    assert "malformed JSON" in reasons[0] and "completion" in reasons[1]
    text = out.read_text(encoding="utf-8")
    assert "数学の問題です" in text and "Bär" in text  # written as text, not \\u escapes


def test_convert_with_every_row_rejected_writes_nothing(tmp_path):
    src = write_lines(tmp_path / "junk.jsonl", ["{oops", '{"neither": "prompt nor messages"}'])
    out = tmp_path / "out.arrow"
    with pytest.raises(NoValidRowsError):
        convert_file(src, out, on_bad_row="skip")
    assert not out.exists()
    assert len(rejects_of(tmp_path / "rejects.jsonl")) == 2


def test_convert_with_a_layout_exports(tmp_path):
    out = tmp_path / "trl.jsonl"
    written = convert_file(rows_file(tmp_path, RLVR), out, layout="trl")
    assert (written.kind, written.rows, written.layout) == ("rlvr", 3, "trl")
    assert (
        json.loads(out.read_text(encoding="utf-8").splitlines()[0])["prompt"]
        == (RLVR[0]["messages"])
    )


# export_file


def test_export_open_instruct_parquet(tmp_path):
    out = tmp_path / "oi.parquet"
    written = export_file(rows_file(tmp_path, RLVR), out, "open-instruct", source="s")
    table = pq.read_table(out)
    assert sorted(table.column_names) == ["dataset", "ground_truth", "id", "messages", "source"]
    assert table.column("dataset").to_pylist() == ["gsm8k"] * 3
    assert table.column("source").to_pylist() == ["s"] * 3
    assert written.rows == 3 and written.accounting.balanced()


def test_export_keeps_non_ascii_as_text(tmp_path):
    out = tmp_path / "trl.jsonl"
    export_file(rows_file(tmp_path, RLVR), out, "trl")
    assert "Combien font 0 + 0 ? ✓" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "layout", "needle"),
    [("x.csv", "trl", "writes .jsonl or .parquet"), ("x.jsonl", "nope", "unknown layout")],
)
def test_export_usage_errors_before_any_work(tmp_path, name, layout, needle):
    with pytest.raises(UsageError, match=needle):
        export_file(tmp_path / "missing.jsonl", tmp_path / name, layout)
    assert list(tmp_path.iterdir()) == []


def test_export_bad_row_error_and_skip(tmp_path):
    src = with_bad_rows(tmp_path, RLVR)
    out = tmp_path / "trl.jsonl"
    with pytest.raises(BadRowError) as err:
        export_file(src, out, "trl")
    assert err.value.row == 2 and not out.exists()
    written = export_file(src, out, "trl", on_bad_row="skip")
    assert written.rows == 3 and written.accounting.rejected == 2
    assert written.rejects_path == tmp_path / "rejects.jsonl"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_export_with_every_row_rejected_writes_nothing(tmp_path):
    sft_only = rows_file(tmp_path, GOOD)  # no ground truth: not an rlvr row
    out = tmp_path / "trl.parquet"
    with pytest.raises(NoValidRowsError):
        export_file(sft_only, out, "trl", on_bad_row="skip")
    assert not out.exists()
    assert len(rejects_of(tmp_path / "rejects.jsonl")) == 3
