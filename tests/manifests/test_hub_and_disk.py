"""hf:// specs go through datasets.load_dataset (a local dataset folder here); save_to_disk."""

from __future__ import annotations

import json

import datasets
import pytest

from manifests import BadRowError, read_rows
from manifests.readers import parse_hub_spec


def test_parse_hub_spec():
    spec = parse_hub_spec("hf://allenai/tulu-3-sft-mixture")
    assert (spec.name, spec.config, spec.split) == ("allenai/tulu-3-sft-mixture", None, "train")
    spec = parse_hub_spec("hf://cais/mmlu:all@test")
    assert (spec.name, spec.config, spec.split) == ("cais/mmlu", "all", "test")
    with pytest.raises(ValueError, match="hf://NAME"):
        parse_hub_spec("hf://x:@test")


def test_hub_loader_path_with_local_dataset_folder(tmp_path):
    folder = tmp_path / "my_dataset"
    folder.mkdir()
    rows = [{"prompt": f"q{i}", "completion": f"a{i}"} for i in range(5)]
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (folder / "test.jsonl").write_text(json.dumps({"prompt": "t", "completion": "u"}) + "\n")
    got = list(read_rows(f"hf://{folder}", "sft"))
    assert [r["messages"][0]["content"] for r in got] == [f"q{i}" for i in range(5)]
    assert got[0]["source"] == "my_dataset"
    assert json.loads(got[2]["metadata"]) == {"file": f"hf://{folder}", "row": 2}
    test_rows = list(read_rows(f"hf://{folder}@test", "sft"))
    assert [r["messages"][1]["content"] for r in test_rows] == ["u"]


def test_unreachable_hub_names_the_dataset_and_the_way_out(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(BadRowError) as info:
        list(read_rows("hf://openai/gsm8k:main@test"))
    message = str(info.value)
    assert "'openai/gsm8k'" in message and "'main'" in message and "'test'" in message
    assert "local file" in message


def test_save_to_disk_folder_and_dataset_dict(tmp_path):
    data = {"instruction": ["a", "b"], "output": ["1", "2"]}
    datasets.Dataset.from_dict(data).save_to_disk(str(tmp_path / "one"))
    got = list(read_rows(tmp_path / "one", "sft"))
    assert [r["messages"][1]["content"] for r in got] == ["1", "2"]
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(data)}).save_to_disk(
        str(tmp_path / "dd")
    )
    assert len(list(read_rows(tmp_path / "dd", "sft"))) == 2


def test_folder_that_is_not_a_dataset(tmp_path):
    with pytest.raises(BadRowError, match="save_to_disk"):
        list(read_rows(tmp_path))
