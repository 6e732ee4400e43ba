import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.synth import builtin_path, load_personas
from manifests import BadRowError


def test_builtin_file_is_package_data_with_ids():
    lines = builtin_path().read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) >= 300
    assert all(r["persona"].strip() and r["id"].startswith("skillmix-persona-") for r in records)


def test_local_files_in_several_formats(tmp_path):
    txt = tmp_path / "p.txt"
    txt.write_text("A baker.\n\nA pilot.\nA baker.\n")
    assert load_personas(str(txt)) == ["A baker.", "A pilot."]  # blank and repeats dropped
    table = pa.table({"persona": ["A nurse.", "A chef."], "other": [1, 2]})
    pq.write_table(table, tmp_path / "p.parquet")
    assert load_personas(str(tmp_path / "p.parquet")) == ["A nurse.", "A chef."]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text(json.dumps({"who": "A diver."}) + "\n")
    assert load_personas(str(jsonl), field="who") == ["A diver."]
    assert load_personas("builtin", limit=5) == load_personas()[:5]


def test_bad_persona_rows_name_file_and_row(tmp_path):
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text(json.dumps({"persona": "ok"}) + "\n" + json.dumps({"persona": 3}) + "\n")
    with pytest.raises(BadRowError, match=r"p\.jsonl.*2"):
        load_personas(str(jsonl))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no personas"):
        load_personas(str(empty))
