import json

import pytest
from click.testing import CliRunner

from manifests.shards import iter_shard_rows, load_manifest
from mixers import mix
from mixers.recipe import load_recipe
from mixers.stats import format_stats, mix_stats
from skillmix.cli import main


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_mix_stats_verify_commands(ws, tmp_path):
    recipe = ws.standard()
    out = tmp_path / "out"
    result = cli("mix", str(recipe), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 50 rows in 4 shard(s)" in result.output
    assert "rows in 95, out 50" in result.output  # the accounting line
    stats = cli("stats", str(out), "--png", str(tmp_path / "chart.png"))
    assert stats.exit_code == 0
    assert "math" in stats.output and "20" in stats.output
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ok = cli("verify", str(out))
    assert ok.exit_code == 0 and "ok" in ok.output
    shard = out / load_manifest(out)["shards"][1]["file"]
    shard.write_bytes(shard.read_bytes()[:-1] + b"\x00")
    bad = CliRunner().invoke(main, ["verify", str(out)])
    assert bad.exit_code != 0 and "sha256" in bad.output


def test_cli_errors_name_the_problem(ws, tmp_path):
    recipe = ws.recipe([{"name": "s", "path": "s.jsonl", "take": {"fraction": 1.0}}], colour="red")
    result = CliRunner().invoke(main, ["mix", str(recipe), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "colour: unknown key" in result.output
    (ws.root / "bad.jsonl").write_text("{oops\n")
    recipe = ws.recipe(
        [{"name": "b", "path": "bad.jsonl", "take": {"fraction": 1.0}}], name="bad.yaml"
    )
    result = CliRunner().invoke(main, ["mix", str(recipe), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "bad.jsonl, row 1" in result.output
    assert "--on-bad-row=skip" in result.output
    missing = CliRunner().invoke(main, ["stats", str(tmp_path)])
    assert missing.exit_code != 0 and "manifest.json" in missing.output


@pytest.mark.parametrize("command", ["mix", "stats", "verify"])
def test_help(command):
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_stats_match_the_rows(ws, tmp_path):
    mix(load_recipe(ws.standard()), tmp_path / "out")
    stats = mix_stats(tmp_path / "out")
    rows = list(iter_shard_rows(tmp_path / "out"))
    assert {c["name"]: c["rows"] for c in stats["sources"]} == {
        s: sum(r["source"] == s for r in rows) for s in ("math", "code", "chat")
    }
    assert sum(c["rows"] for c in stats["skills"]) == len(rows) == stats["total_rows"]
    assert "not drawn" in format_stats(stats)


def _tiny_tokenizer(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(folder)
    return str(folder)


def test_token_counts_and_token_budget(ws, tmp_path):
    tokenizer = _tiny_tokenizer(tmp_path / "tok")
    recipe = ws.standard()
    result = mix(load_recipe(recipe), tmp_path / "out", tokenizer=tokenizer)
    counts = result.manifest["token_counts"]
    rows = list(iter_shard_rows(tmp_path / "out"))
    words = [sum(len(m["content"].split()) for m in r["messages"]) for r in rows]
    assert counts["total"] == sum(words)
    assert counts["per_source"]["math"] == sum(
        w for w, r in zip(words, rows, strict=True) if r["source"] == "math"
    )
    assert sum(counts["per_skill"].values()) == counts["total"]
    budget = ws.recipe(
        [
            {"name": "math", "path": "math.jsonl", "take": {"weight": 1}},
            {"name": "chat", "path": "chat.jsonl", "take": {"weight": 1}},
        ],
        name="tokens.yaml",
        tokens=300,
    )
    result = mix(load_recipe(budget), tmp_path / "tok-out", tokenizer=tokenizer)
    per_source = result.manifest["token_counts"]["per_source"]
    assert abs(per_source["math"] - 150) <= 15 and abs(per_source["chat"] - 150) <= 15
    assert json.loads(json.dumps(result.manifest)) == load_manifest(tmp_path / "tok-out")
