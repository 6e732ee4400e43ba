"""run_synth: the stage is chosen by the inputs given, and options that do not go together
are a UsageError before any work; bad prompt records go through the gate."""

from __future__ import annotations

import json

import pytest

from curate.backends.factory import BackendOptions
from curate.backends.mock_server import MockOpenAIServer, template_answer
from curate.synth.prompts import PromptConfig
from curate.synth.run import run_synth
from manifests import BadRowError, NoValidRowsError, read_rows
from manifests.errors import UsageError


def backend(url: str, model: str = "fake") -> BackendOptions:
    return BackendOptions(model=model, base_url=url)


@pytest.mark.parametrize(
    ("given", "needle"),
    [
        ({"responses": "p.jsonl", "preferences": "p.jsonl"}, "two stages"),
        ({"responses": "p.jsonl", "pool": 2}, "only stage 3"),
        ({"pool": 2}, "only stage 3"),
    ],
)
def test_options_that_do_not_go_together(tmp_path, given, needle):
    pool = [backend("http://127.0.0.1:9/v1", f"m{i}") for i in range(given.pop("pool", 1))]
    with pytest.raises(UsageError, match=needle):
        run_synth(tmp_path / "out.jsonl", pool, **given)
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def write_records(path, records: list[dict], bad_lines: dict[int, str]) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    for at, line in sorted(bad_lines.items()):
        lines.insert(at, line)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_each_stage_by_its_input_with_bad_records_named_or_skipped(tmp_path):
    with MockOpenAIServer(template_answer) as server:
        pool = [backend(server.url)]
        prompts = tmp_path / "prompts.jsonl"
        first = run_synth(prompts, pool, prompt_config=PromptConfig(skills=("gsm",), per_skill=3))
        assert first["stage"] == "prompts" and first["accounting"]["rows_out"] == 3
        records = [json.loads(line) for line in prompts.read_text().splitlines()]
        # A record in other scripts answers like any other.
        records[0]["messages"][-1]["content"] = "Ein Bär kauft 3 Kisten zu je 4 Äpfeln. 几个?"
        edited = tmp_path / "edited.jsonl"
        write_records(edited, records, {1: "{oops"})

        with pytest.raises(BadRowError) as err:
            run_synth(tmp_path / "sft.jsonl", pool, responses=edited)
        assert (err.value.file, err.value.row) == (str(edited), 2)
        assert not (tmp_path / "sft.jsonl").exists()

        second = run_synth(tmp_path / "sft.jsonl", pool, responses=edited, on_bad_row="skip")
        assert second["stage"] == "responses"
        assert second["accounting"]["sft"]["rows_in"] == 4
        assert second["accounting"]["sft"]["rejected"] == 1
        sft = list(read_rows(tmp_path / "sft.jsonl"))
        assert any("几个?" in r["messages"][0]["content"] for r in sft)
        rejects = (tmp_path / "rejects.jsonl").read_text().splitlines()
        assert [json.loads(line)["row"] for line in rejects] == [2]

        junk = tmp_path / "junk.jsonl"
        write_records(junk, [], {0: "{oops", 1: json.dumps({"messages": "not a list"})})
        with pytest.raises(NoValidRowsError):
            run_synth(tmp_path / "pairs.jsonl", pool, preferences=junk, on_bad_row="skip")
        assert not (tmp_path / "pairs.jsonl").exists()
