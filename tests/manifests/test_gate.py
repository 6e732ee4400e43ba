"""The row gate on its own: error names file, row and problem; skip writes and counts;
an input whose every row was rejected is a named error."""

from __future__ import annotations

import json

import pytest

from manifests import Accounting, BadRowError, NoValidRowsError, RejectsWriter, RowGate


def _rejects(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_error_mode_names_file_row_and_problem():
    gate = RowGate("error")
    assert gate.admit("a.jsonl", 1, None, {"id": "x"})
    with pytest.raises(BadRowError, match=r"^a\.jsonl, row 2: field 'messages': missing$") as exc:
        gate.admit("a.jsonl", 2, "field 'messages': missing", {"id": "y"})
    assert (exc.value.file, exc.value.row) == ("a.jsonl", 2)
    assert gate.accounting.to_dict() == {"rows_in": 2, "rows_out": 1, "removed": {}, "rejected": 0}


def test_skip_mode_writes_the_reject_with_its_reason_and_counts_it(tmp_path):
    acc = Accounting()
    with RejectsWriter(tmp_path / "rejects.jsonl") as rejects:
        gate = RowGate("skip", rejects, acc)
        kept = [
            gate.admit("données.jsonl", 1, None, {"id": "a"}),
            gate.admit("données.jsonl", 2, "rôle inconnu « narrateur »", {"role": "narrateur"}),
            gate.admit("données.jsonl", 3, None, {"id": "c"}),
        ]
        gate.finish("données.jsonl")  # two rows kept: not the all-rejected case
    assert kept == [True, False, True]
    assert acc.to_dict() == {"rows_in": 3, "rows_out": 2, "removed": {}, "rejected": 1}
    acc.check()
    [record] = _rejects(tmp_path / "rejects.jsonl")
    assert record == {
        "file": "données.jsonl",
        "row": 2,
        "reason": "rôle inconnu « narrateur »",
        "raw": {"role": "narrateur"},
    }


def test_reject_of_a_row_counted_in_earlier(tmp_path):
    with RejectsWriter(tmp_path / "rejects.jsonl") as rejects:
        gate = RowGate("skip", rejects)
        gate.count_in(3)
        gate.reject("mix", 0, "field 'verifier': unknown verifier 'astrology'")
    assert (gate.seen, gate.rejected, gate.accounting.rejected) == (3, 1, 1)
    assert rejects.count == 1


def test_skip_without_a_rejects_writer_and_unknown_modes_are_refused():
    with pytest.raises(ValueError, match="needs a RejectsWriter"):
        RowGate("skip")
    with pytest.raises(ValueError, match=r"one of \('error', 'skip'\), got 'ignore'"):
        RowGate("ignore")


def test_every_row_rejected_is_a_named_error(tmp_path):
    path = tmp_path / "rejects.jsonl"
    with RejectsWriter(path) as rejects:
        gate = RowGate("skip", rejects)
        for row in (1, 2):
            gate.admit("in.jsonl", row, "not JSON", "{oops")
        with pytest.raises(NoValidRowsError) as exc:
            gate.finish("in.jsonl")
    assert isinstance(exc.value, BadRowError) and exc.value.row is None
    assert exc.value.rejected == 2 and exc.value.rejects_path == path
    assert (
        str(exc.value) == f"in.jsonl: no valid rows: all 2 row(s) were rejected (reasons in {path})"
    )
    assert len(_rejects(path)) == 2  # the rejects stay readable after the failure


def test_an_empty_input_is_not_the_all_rejected_case(tmp_path):
    with RejectsWriter(tmp_path / "rejects.jsonl") as rejects:
        RowGate("skip", rejects).finish("empty.jsonl")
    RowGate("error").finish("empty.jsonl")
