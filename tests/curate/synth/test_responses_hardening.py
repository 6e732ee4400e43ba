"""`synth --responses` hardening: records checked before any request, duplicates, output
paths that cannot overwrite each other, undecodable bodies, runs where every request fails,
identical samples at temperature > 0."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from curate.backends.mock_server import MockOpenAIServer, body_key
from manifests import read_rows
from skillmix.cli import main


def good(i: int, **extra) -> dict:
    return {
        "id": f"g{i}",
        "source": "s",
        "skill": "gsm",
        "messages": [{"role": "user", "content": f"Tom has {i} apples. How many?"}],
        "metadata": "{}",
        **extra,
    }


BAD = [
    ({**good(90), "messages": [{"role": "robot", "content": "hi"}]}, "role 'robot'"),
    ({**good(91), "source": 7}, "field 'source'"),
    ({**good(92), "skill": ""}, "field 'skill'"),
    ({**good(93), "metadata": "{not json"}, "field 'metadata': not"),
    ({**good(94), "metadata": "[1, 2]"}, "expected a JSON object"),
    ({**good(95), "verifier": "no_such_check", "ground_truth": "1"}, "unknown verifier"),
    (
        {**good(96), "metadata": json.dumps({"verifier": "ifeval", "ground_truth": "{bad"})},
        "field 'ground_truth'",
    ),
    (
        {
            **good(97),
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        },
        "last turn",
    ),
]


def answer(body: dict) -> str:
    return f"It is {body_key(body)[:4]}.\n#### {len(body['messages'][-1]['content'])}"


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def synth(*args):
    return CliRunner().invoke(main, ["synth", *map(str, args)])


@pytest.mark.parametrize(("record", "problem"), BAD, ids=[p for _, p in BAD])
def test_a_bad_record_stops_the_run_before_any_request(tmp_path, record, problem):
    prompts = write(tmp_path / "p.jsonl", [good(0), good(1), record, good(2)])
    with MockOpenAIServer(answer) as server:
        result = synth(
            tmp_path / "o.jsonl", "--responses", prompts, "--model", "m", "--base-url", server.url
        )
        assert server.log.received == []
    assert result.exit_code == 1, result.output
    assert f"{prompts}, row 3: " in result.output and problem in result.output
    assert "Traceback" not in result.output


def test_bad_records_go_to_rejects_with_skip(tmp_path):
    prompts = write(tmp_path / "p.jsonl", [good(0), *[r for r, _ in BAD], good(1)])
    out = tmp_path / "o.jsonl"
    with MockOpenAIServer(answer) as server:
        result = synth(
            out,
            "--responses",
            prompts,
            "--model",
            "m",
            "--base-url",
            server.url,
            "--on-bad-row",
            "skip",
        )
        assert len(server.log.received) == 2
    assert result.exit_code == 0, result.output
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == len(BAD)
    summary = json.loads((tmp_path / "o.jsonl.summary.json").read_text())
    assert summary["accounting"]["sft"]["rejected"] == len(BAD)
    assert summary["accounting"]["sft"]["rows_in"] == len(BAD) + 2


def test_duplicate_records_give_one_request_and_one_row(tmp_path):
    prompts = write(tmp_path / "p.jsonl", [good(0), good(1), good(0), good(0)])
    out = tmp_path / "o.jsonl"
    with MockOpenAIServer(answer) as server:
        result = synth(out, "--responses", prompts, "--model", "m", "--base-url", server.url)
        assert len(server.log.received) == 2
    assert result.exit_code == 0, result.output
    rows = list(read_rows(out, "sft"))
    assert sorted(json.loads(r["metadata"])["prompt_id"] for r in rows) == ["g0", "g1"]
    summary = json.loads((tmp_path / "o.jsonl.summary.json").read_text())
    assert summary["accounting"]["sft"]["removed"].get("duplicate_prompt") == 2
    assert summary["accounting"]["rlvr"]["removed"].get("duplicate_prompt") == 2


def test_sft_and_rlvr_outputs_never_overwrite_each_other(tmp_path):
    prompts = write(tmp_path / "p.jsonl", [good(0), good(1)])
    out = tmp_path / "X.rlvr.jsonl"  # its default rlvr path used to be itself
    with MockOpenAIServer(answer) as server:
        result = synth(out, "--responses", prompts, "--model", "m", "--base-url", server.url)
        assert result.exit_code == 0, result.output
        assert len(list(read_rows(out, "sft"))) == 2
        rlvr = tmp_path / "X.rlvr.rlvr.jsonl"
        assert len(list(read_rows(rlvr, "rlvr"))) == 2
        same = synth(
            tmp_path / "a.jsonl",
            "--responses",
            prompts,
            "--model",
            "m",
            "--base-url",
            server.url,
            "--rlvr-out",
            tmp_path / "a.jsonl",
        )
        onto_input = synth(
            prompts, "--responses", prompts, "--model", "m", "--base-url", server.url
        )
    assert same.exit_code == 1 and "same file" in same.output
    assert not (tmp_path / "a.jsonl").exists()
    assert onto_input.exit_code == 1 and "same file" in onto_input.output
    assert len(prompts.read_text().splitlines()) == 2


def test_an_undecodable_body_is_retried_like_a_500(tmp_path):
    prompts = write(tmp_path / "p.jsonl", [good(i) for i in range(4)])
    seen: set[str] = set()

    def first_try_bad_gzip(server, body):
        key = body_key(body)
        if key in seen:
            return None
        seen.add(key)
        return "bad_gzip"

    out = tmp_path / "o.jsonl"
    with MockOpenAIServer(answer, fault=first_try_bad_gzip) as server:
        result = synth(out, "--responses", prompts, "--model", "m", "--base-url", server.url)
        assert server.log.statuses == {"bad_gzip": 4, "200": 4}
    assert result.exit_code == 0, result.output
    assert "errors: decode_error=4" in result.output and "retries 4" in result.output
    assert len(list(read_rows(out, "sft"))) == 4


def test_a_run_where_every_request_fails_exits_non_zero_with_the_reason(tmp_path):
    prompts = write(tmp_path / "p.jsonl", [good(i) for i in range(3)])
    out = tmp_path / "o.jsonl"
    with MockOpenAIServer(answer, fault=lambda s, b: "401") as server:
        result = synth(out, "--responses", prompts, "--model", "m", "--base-url", server.url)
    assert result.exit_code == 1
    assert "every request failed (http_401 x3)" in result.output
    assert not out.exists() and "Traceback" not in result.output


def test_identical_samples_at_temperature_are_noted_once(tmp_path):
    prompts = write(tmp_path / "p.jsonl", [good(i) for i in range(4)])

    def ignores_temperature(body):  # like `transformers serve`: greedy whatever is asked
        return f"#### {len(body['messages'][-1]['content'])}"

    with MockOpenAIServer(ignores_temperature) as server:
        hot = synth(
            tmp_path / "o.jsonl",
            "--responses",
            prompts,
            "--model",
            "m",
            "--base-url",
            server.url,
            "--samples",
            "3",
            "--temperature",
            "0.9",
        )
        cold = synth(
            tmp_path / "c.jsonl",
            "--responses",
            prompts,
            "--model",
            "m",
            "--base-url",
            server.url,
            "--samples",
            "3",
            "--temperature",
            "0",
        )
    assert hot.exit_code == 0 and cold.exit_code == 0, hot.output
    notes = [line for line in hot.output.splitlines() if line.startswith("note:")]
    assert len(notes) == 1
    assert "samples of 4 of 4 prompt(s) are byte-identical" in notes[0]
    assert "note:" not in cold.output
