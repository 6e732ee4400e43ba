import json

import click
import pytest
from click.testing import CliRunner

from skillmix.cli import main


@pytest.mark.parametrize(
    "command",
    [["synth"], ["augment-if"], ["tag"], ["tag", "train"], ["tag", "apply"], ["verify-answers"]],
)
def test_every_option_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    group = main
    for name in command:
        group = group.commands[name]
    for param in group.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(command)} {param.opts[0]} has no help"


def test_synth_two_stages_through_the_cli(server, tmp_path):
    runner = CliRunner()
    prompts = tmp_path / "prompts.jsonl"
    first = runner.invoke(
        main,
        [
            "synth",
            str(prompts),
            "--model",
            "fake",
            "--base-url",
            server.url,
            "--skills",
            "gsm,math,code,precise_if",
            "-n",
            "3",
            "--seed",
            "1",
        ],
    )
    assert first.exit_code == 0, first.output
    assert "prompts: rows in 12, out 12" in first.output
    assert len(prompts.read_text().splitlines()) == 12

    sft = tmp_path / "sft.parquet"
    second = runner.invoke(
        main,
        [
            "synth",
            str(sft),
            "--responses",
            str(prompts),
            "--model",
            "fake-solver",
            "--base-url",
            server.url,
            "--samples",
            "2",
        ],
    )
    assert second.exit_code == 0, second.output
    summary = json.loads((tmp_path / "sft.parquet.summary.json").read_text())
    rlvr_acc = summary["accounting"]["rlvr"]
    assert rlvr_acc["rows_in"] == 12
    assert rlvr_acc["rows_out"] == 12 - sum(rlvr_acc["removed"].values())
    import pyarrow.parquet as pq

    rows = pq.read_table(sft).to_pylist()
    assert {r["skill"] for r in rows} >= {"gsm", "math", "code"}
    rlvr = [json.loads(line) for line in (tmp_path / "sft.rlvr.jsonl").read_text().splitlines()]
    assert {r["verifier"] for r in rlvr} == {"gsm8k", "math", "code", "ifeval"}
    # Running stage 2 again sends nothing: every answer is in the cache.
    before = len(server.log.received)
    third = runner.invoke(
        main,
        [
            "synth",
            str(sft),
            "--responses",
            str(prompts),
            "--model",
            "fake-solver",
            "--base-url",
            server.url,
            "--samples",
            "2",
        ],
    )
    assert third.exit_code == 0 and len(server.log.received) == before
    assert "from cache 24" in third.output


def test_synth_reports_bad_prompt_records(server, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        '{"id": "a", "source": "s", "skill": "gsm", "metadata": "{}", '
        '"messages": [{"role": "user", "content": "2+2?"}]}\n'
        '{"id": "b", "source": "s"}\n'
    )
    runner = CliRunner()
    args = [
        "synth",
        str(tmp_path / "sft.jsonl"),
        "--responses",
        str(prompts),
        "--model",
        "fake",
        "--base-url",
        server.url,
    ]
    failed = runner.invoke(main, args)
    assert failed.exit_code != 0
    assert "prompts.jsonl" in failed.output and "row 2" in failed.output
    ok = runner.invoke(main, [*args, "--on-bad-row", "skip"])
    assert ok.exit_code == 0, ok.output
    assert "rejected 1" in ok.output
    assert "missing field" in (tmp_path / "rejects.jsonl").read_text()


def test_unknown_skill_and_missing_key_are_clear_errors(server, tmp_path):
    runner = CliRunner()
    bad = runner.invoke(
        main, ["synth", str(tmp_path / "p.jsonl"), "--model", "m", "--skills", "poetry"]
    )
    assert bad.exit_code != 0 and "poetry" in bad.output
    nokey = runner.invoke(
        main,
        [
            "synth",
            str(tmp_path / "p.jsonl"),
            "--model",
            "m",
            "--base-url",
            server.url,
            "--api-key-env",
            "NOPE_NOT_SET_X",
        ],
    )
    assert nokey.exit_code != 0 and "NOPE_NOT_SET_X" in nokey.output


def test_verify_answers_cli(tmp_path):
    answer = tmp_path / "a.txt"
    answer.write_text("She pays $1,000 in total.")
    result = CliRunner().invoke(main, ["verify-answers", "GSM8K", str(answer), "1000"])
    assert result.exit_code == 0 and json.loads(result.output)["score"] == 1.0
    unknown = CliRunner().invoke(main, ["verify-answers", "nope", str(answer), "1"])
    assert unknown.exit_code != 0 and "unknown verifier" in unknown.output
