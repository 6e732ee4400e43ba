"""`skillmix synth OUT --preferences PROMPTS`: the pool, the judge, accounting, failing runs."""

from __future__ import annotations

import json

from click.testing import CliRunner

from curate.backends.mock_server import MockOpenAIServer, template_answer
from manifests import read_rows
from skillmix.cli import main


def write_prompts(path, n=12, bad_row=False):
    rows = [
        {
            "id": f"q{i}",
            "source": "s",
            "skill": "chat",
            "messages": [{"role": "user", "content": f"Say something about {i}."}],
            "metadata": "{}",
        }
        for i in range(n)
    ]
    lines = [json.dumps(r) for r in rows]
    if bad_row:
        lines.insert(3, json.dumps({"id": "bad", "messages": "not a list"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(args):
    return CliRunner().invoke(main, ["synth", *args])


def test_pool_on_two_servers_judge_on_a_third(tmp_path):
    prompts = write_prompts(tmp_path / "p.jsonl", bad_row=True)
    out = tmp_path / "pairs.jsonl"
    with (
        MockOpenAIServer(template_answer) as one,
        MockOpenAIServer(template_answer) as two,
        MockOpenAIServer(template_answer) as judge,
    ):
        result = invoke(
            [
                str(out),
                "--preferences",
                str(prompts),
                "--model",
                "m1",
                "--model",
                f"m2@{two.url}",
                "--samples",
                "2",
                "--base-url",
                one.url,
                "--judge-model",
                "j",
                "--judge-base-url",
                judge.url,
                "--on-bad-row",
                "skip",
            ]
        )
        assert result.exit_code == 0, result.output
        assert len(one.log.received) == len(two.log.received) == 12 * 2
        # One judge call per distinct answer (two samples may coincide in the mock's text).
        assert 12 * 3 < len(judge.log.received) <= 12 * 4
    rows = list(read_rows(out, "preference"))
    summary = json.loads((tmp_path / "pairs.jsonl.summary.json").read_text())
    acc = summary["accounting"]
    assert acc["rows_in"] == 13 and acc["rejected"] == 1 and acc["rows_out"] == len(rows) > 0
    removed = acc["removed"]
    line = f"preferences: prompts in 13, pairs out {len(rows)}, removed {sum(removed.values())}"
    assert line in result.output
    assert "judge:j: requests sent" in result.output and "m2: requests sent" in result.output
    assert {m["model"] for m in summary["pool"]} == {"m1", "m2"}
    assert summary["pool"][1]["base_url"] == two.url and summary["judge"]["base_url"] == judge.url
    meta = json.loads(rows[0]["metadata"])
    assert set(meta["pool"]) <= {"m1", "m2"} and meta["judge_model"] == "j"
    assert "bad" in (tmp_path / "rejects.jsonl").read_text()


def test_zero_pairs_exits_non_zero_and_says_why(tmp_path):
    prompts = write_prompts(tmp_path / "p.jsonl", n=5)
    out = tmp_path / "pairs.jsonl"
    with MockOpenAIServer(template_answer) as server:  # one model, one sample: nothing to pair
        result = invoke(
            [
                str(out),
                "--preferences",
                str(prompts),
                "--model",
                "m1",
                "--judge-model",
                "j",
                "--base-url",
                server.url,
            ]
        )
    assert result.exit_code == 1
    assert "no preference pairs written (one_usable_completion=5)" in result.output
    assert "preferences: prompts in 5, pairs out 0, removed 5" in result.output
    assert not out.exists() and "Traceback" not in result.output


def test_every_request_refused_names_the_reason(tmp_path):
    prompts = write_prompts(tmp_path / "p.jsonl", n=3)
    with MockOpenAIServer(template_answer, fault=lambda s, b: "401") as server:
        result = invoke(
            [
                str(tmp_path / "o.jsonl"),
                "--preferences",
                str(prompts),
                "--model",
                "m1",
                "--model",
                "m2",
                "--judge-model",
                "j",
                "--base-url",
                server.url,
            ]
        )
        assert len(server.log.received) == 6  # a 401 is not retried, the judge never asked
    assert result.exit_code == 1
    assert "no_completion=3" in result.output
    assert "m1: http_401 x3; m2: http_401 x3" in result.output


def test_usage_errors_are_named(tmp_path):
    prompts = write_prompts(tmp_path / "p.jsonl", n=2)
    both = invoke(
        [
            str(tmp_path / "o.jsonl"),
            "--preferences",
            str(prompts),
            "--responses",
            str(prompts),
            "--model",
            "m",
        ]
    )
    assert both.exit_code == 2 and "two stages" in both.output
    pool = invoke(
        [str(tmp_path / "o.jsonl"), "--responses", str(prompts), "--model", "a", "--model", "b"]
    )
    assert pool.exit_code == 2 and "only stage 3" in pool.output
    bad = invoke(
        [
            str(tmp_path / "o.jsonl"),
            "--preferences",
            str(prompts),
            "--model",
            "m@",
            "--judge-model",
            "j",
        ]
    )
    assert bad.exit_code == 2 and "NAME@BASE_URL" in bad.output
    nojudge = invoke(
        [
            str(tmp_path / "o.jsonl"),
            "--preferences",
            str(prompts),
            "--model",
            "a",
            "--model",
            "b",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ]
    )
    assert nojudge.exit_code == 1 and "--judge-model" in nojudge.output
    same = invoke(
        [str(prompts), "--preferences", str(prompts), "--model", "a", "--judge-model", "j"]
    )
    assert same.exit_code == 1 and "same file" in same.output
    assert len(prompts.read_text().splitlines()) == 2  # the input was not touched
