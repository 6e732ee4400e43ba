"""`skillmix inspect` and `skillmix convert` on every supported format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from manifests import read_rows
from skillmix.cli import main

OUTPUTS = ["o.jsonl", "o.jsonl.gz", "o.jsonl.zst", "o.parquet", "o.arrow", "o.csv", "odir"]


@pytest.fixture
def sharegpt(tmp_path) -> Path:
    path = tmp_path / "in.jsonl"
    rows = [
        {
            "conversations": [
                {"from": "human", "value": f"question {i}"},
                {"from": "gpt", "value": f"answer {i}"},
            ],
            "skill": "math" if i % 2 else "chat",
        }
        for i in range(6)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("out", OUTPUTS)
def test_convert_then_inspect_every_format(tmp_path, sharegpt, out):
    target = tmp_path / out
    result = run("convert", sharegpt, target, "--kind", "sft", "--source", "demo")
    assert result.exit_code == 0, result.output
    assert "wrote 6 sft rows" in result.output
    assert "rows in 6, out 6, removed 0 (none), rejected 0" in result.output
    inspected = run("inspect", target, "--json")
    assert inspected.exit_code == 0, inspected.output
    stats = json.loads(inspected.output[: inspected.output.rindex("}") + 1])
    assert stats["rows"] == 6
    assert stats["skills"] == {"chat": 3, "math": 3}
    assert stats["sources"] == {"demo": 6}
    assert stats["turns"]["mean"] == 2.0
    rows = list(read_rows(target))
    assert rows[0]["messages"][0] == {"role": "user", "content": "question 0"}


def test_convert_bad_rows_error_then_skip(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text(
        '{"prompt": "a", "completion": "b"}\n{oops\n{"prompt": "c"}\n'
        '{"prompt": "d", "completion": "e"}\n'
    )
    failed = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "o.parquet")])
    assert failed.exit_code != 0
    assert f"{src}, row 2: malformed JSON" in failed.output
    ok = run("convert", src, tmp_path / "o.parquet", "--on-bad-row", "skip")
    assert ok.exit_code == 0, ok.output
    assert "rows in 4, out 2, removed 0 (none), rejected 2" in ok.output
    rejects = [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [(r["row"], "completion" in r["reason"] or "JSON" in r["reason"]) for r in rejects] == [
        (2, True),
        (3, True),
    ]
    assert len(list(read_rows(tmp_path / "o.parquet"))) == 2


def test_inspect_counts_tokens_with_a_local_tokenizer(tmp_path, sharegpt):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        ["question answer 0 1 2 3 4 5"], trainers.WordLevelTrainer(special_tokens=["[UNK]"])
    )
    PreTrainedTokenizerFast(tokenizer_object=tok).save_pretrained(tmp_path / "tok")
    result = run("inspect", sharegpt, "--tokenizer", tmp_path / "tok", "--json")
    stats = json.loads(result.output[: result.output.rindex("}") + 1])
    # "question i\nanswer i": four word-level tokens per row.
    assert stats["tokens"]["total"] == 6 * 4
    assert stats["chars"]["total"] == sum(len(f"question {i}\nanswer {i}") for i in range(6))


def test_every_command_has_help():
    for name in main.list_commands(None):
        result = run(name, "--help")
        assert result.exit_code == 0 and "Usage" in result.output, name
