import json

import datasets
import polars as pl
import pyarrow as pa
import pytest

from manifests import schema_for
from manifests.shards import (
    REQUIRED_KEYS,
    ShardWriter,
    iter_shard_rows,
    load_manifest,
    verify_shards,
    write_shards,
)


def sft_row(i: int) -> dict:
    return {
        "id": f"r{i}",
        "source": "unit",
        "skill": "chat" if i % 2 else "math",
        "messages": [
            {"role": "user", "content": f"question {i} " + "x" * (i % 7)},
            {"role": "assistant", "content": f"answer {i}"},
        ],
        "metadata": json.dumps({"row": i}),
    }


def rows(n: int) -> list[dict]:
    return [sft_row(i) for i in range(n)]


def test_round_trip_and_manifest_keys(tmp_path):
    manifest = write_shards(
        rows(25), tmp_path / "out", "sft", max_rows=10, manifest_extra={"seed": 7}
    )
    assert [s["file"] for s in manifest["shards"]] == [
        "shard-00000-of-00003.arrow",
        "shard-00001-of-00003.arrow",
        "shard-00002-of-00003.arrow",
    ]
    assert [s["rows"] for s in manifest["shards"]] == [10, 10, 5]
    assert manifest["total_rows"] == 25 and manifest["seed"] == 7
    assert {"kind", "seed", "recipe", "sources", "shards", "schema"} <= set(REQUIRED_KEYS)
    assert set(REQUIRED_KEYS) <= set(manifest)
    assert "created_at" not in manifest  # a fact of the run: under `run`, with the folder
    assert manifest["run"]["out_dir"] == str((tmp_path / "out").resolve())
    assert manifest["run"]["created_at"]
    assert load_manifest(tmp_path / "out") == manifest
    assert list(iter_shard_rows(tmp_path / "out", expected_kind="sft")) == rows(25)
    assert verify_shards(tmp_path / "out") == []


def test_shards_open_in_datasets_polars_and_pyarrow(tmp_path):
    manifest = write_shards(rows(30), tmp_path, "sft", max_rows=20)
    expected = rows(30)
    got_ds, got_pl, got_pa = [], [], []
    for shard in manifest["shards"]:
        path = str(tmp_path / shard["file"])
        got_ds += datasets.Dataset.from_file(path).to_list()
        got_pl += pl.read_ipc(path).to_dicts()
        got_pa += pa.ipc.open_file(path).read_all().to_pylist()
    assert got_ds == expected
    assert got_pl == expected
    assert got_pa == expected
    assert pl.scan_ipc(str(tmp_path / "*.arrow")).select(pl.len()).collect().item() == 30


def test_parquet_format(tmp_path):
    manifest = write_shards(rows(12), tmp_path, "sft", fmt="parquet", max_rows=5)
    assert manifest["shards"][0]["file"].endswith(".parquet")
    assert len(manifest["shards"]) == 3
    assert pl.read_parquet(tmp_path / manifest["shards"][1]["file"]).height == 5
    assert list(iter_shard_rows(tmp_path)) == rows(12)
    assert verify_shards(tmp_path) == []


def test_max_bytes_caps_every_shard_but_a_lone_batch(tmp_path):
    with ShardWriter(tmp_path, "sft", max_bytes=4000, batch_rows=8) as writer:
        for row in rows(100):
            writer.write(row)
        shards = writer.close()
    assert len(shards) > 2
    assert sum(s["rows"] for s in shards) == 100
    for shard in shards:
        table = pa.ipc.open_file(str(tmp_path / shard["file"])).read_all()
        assert table.nbytes <= 4000 or shard["rows"] <= 8


def test_same_rows_same_bytes_whatever_the_chunking(tmp_path):
    data = rows(50)
    first = write_shards(data, tmp_path / "a", "sft", max_rows=16)
    with ShardWriter(tmp_path / "b", "sft", max_rows=16) as writer:
        table = pa.Table.from_pylist(data, schema=schema_for("sft"))
        for start in (0, 3, 20, 21, 44):
            stop = {0: 3, 3: 20, 20: 21, 21: 44, 44: 50}[start]
            writer.write_table(table.slice(start, stop - start))
        second = writer.close()
    assert [s["sha256"] for s in first["shards"]] == [s["sha256"] for s in second]


def test_verify_finds_tampering_missing_and_stray_files(tmp_path):
    manifest = write_shards(rows(30), tmp_path, "sft", max_rows=10)
    first = tmp_path / manifest["shards"][0]["file"]
    data = bytearray(first.read_bytes())
    data[200] ^= 0xFF
    first.write_bytes(bytes(data))
    (tmp_path / manifest["shards"][1]["file"]).unlink()
    (tmp_path / "shard-00007-of-00009.arrow").write_bytes(b"")
    problems = verify_shards(tmp_path)
    assert any("shard-00000" in p and "sha256" in p for p in problems)
    assert any("shard-00001" in p and "missing" in p for p in problems)
    assert any("shard-00007" in p for p in problems)
    with pytest.raises(ValueError, match="do not match"):
        list(iter_shard_rows(tmp_path))


def test_load_manifest_errors(tmp_path):
    with pytest.raises(ValueError, match="missing"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "sft"}))
    with pytest.raises(ValueError, match="missing key"):
        load_manifest(tmp_path)


def test_expected_kind_mismatch(tmp_path):
    write_shards(rows(3), tmp_path, "sft")
    with pytest.raises(ValueError, match="expected 'rlvr'"):
        list(iter_shard_rows(tmp_path, expected_kind="rlvr"))


def test_bad_row_is_named(tmp_path):
    bad = rows(5)
    bad[3]["messages"] = [{"role": "user", "content": "no answer"}]
    with pytest.raises(ValueError, match=r"row 3: .*assistant"):
        write_shards(bad, tmp_path, "sft")


def test_crash_leaves_no_whole_looking_folder_and_rerun_finishes(tmp_path):
    def failing():
        yield from rows(25)
        raise RuntimeError("producer died")

    write_shards(rows(4), tmp_path, "sft")  # an earlier, finished write in the same folder
    with pytest.raises(RuntimeError):
        write_shards(failing(), tmp_path, "sft", max_rows=10)
    assert not (tmp_path / "manifest.json").exists()
    assert not list(tmp_path.glob("shard-*"))
    assert not list(tmp_path.glob(".shard-*"))
    assert verify_shards(tmp_path)  # refuses: no manifest
    write_shards(rows(25), tmp_path, "sft", max_rows=10)
    assert verify_shards(tmp_path) == []
    assert len(list(iter_shard_rows(tmp_path))) == 25


def test_leftovers_of_a_killed_write_are_reported_then_cleaned(tmp_path):
    write_shards(rows(10), tmp_path, "sft", max_rows=5)
    (tmp_path / "manifest.json").unlink()  # as if killed before the manifest
    (tmp_path / ".shard-00002.arrow.tmp").write_bytes(b"half")
    with pytest.raises(ValueError, match="did not finish"):
        load_manifest(tmp_path)
    write_shards(rows(10), tmp_path, "sft", max_rows=10)
    # Only the new shard, its manifest and the `datasets` side files remain.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dataset_info.json",
        "manifest.json",
        "shard-00000-of-00001.arrow",
        "state.json",
    ]


def test_no_rows_gives_one_empty_shard(tmp_path):
    manifest = write_shards([], tmp_path, "preference")
    assert manifest["total_rows"] == 0 and len(manifest["shards"]) == 1
    assert verify_shards(tmp_path) == []
    assert datasets.Dataset.from_file(str(tmp_path / manifest["shards"][0]["file"])).num_rows == 0
