import json

from click.testing import CliRunner

from skillmix.cli import main


def _pool(path, make_row, pool_texts, planted):
    with open(path, "w") as fh:
        for i, text in enumerate(pool_texts[:120]):
            fh.write(json.dumps(make_row(i, text, source="web")) + "\n")
        for i, text in enumerate(planted):
            fh.write(json.dumps(make_row(i, f"Please help. {text}", source="code")) + "\n")


def test_decontam_humaneval_writes_four_outputs(tmp_path, make_row, pool_texts):
    from decontam import load_eval

    planted = load_eval("humaneval").texts[:5]
    pool = tmp_path / "pool.jsonl"
    _pool(pool, make_row, pool_texts, planted)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "decontam",
            "--train",
            str(pool),
            "--eval",
            "humaneval",
            "--method",
            "ngram",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    for name in (
        "matches.jsonl",
        "report.json",
        "contamination.tsv",
        "instances.tsv",
        "report.html",
    ):
        assert (out / name).exists()
    report = json.loads((out / "report.json").read_text())
    assert report["evals"]["humaneval"] == {
        "instances": 164,
        "contaminated": 5,
        "contaminated_share": round(5 / 164, 6),
        "by_method": {"ngram": 5},
        "by_kind": {"exact": 5, "near-verbatim": 0, "partial": 0, "paraphrase": 0},
        "mass_copied": 0,
        "dropped": {},
    }
    assert [e["rows"] for e in report["instances"]] == [1] * 5
    assert all(e["sources"] == {"code": 1} for e in report["instances"])
    assert report["sources"]["code"]["flagged"] == 5
    assert report["sources"]["web"]["flagged"] == 0
    assert report["matrix"]["code"]["humaneval"] == round(5 / 164, 6)
    assert report["sources"]["code"]["contaminated_evals"] == ["humaneval"]
    assert report["accounting"] == {
        "rows_in": 125,
        "rows_out": 120,
        "removed": {"contaminated": 5},
        "rejected": 0,
    }
    match = json.loads((out / "matches.jsonl").read_text().splitlines()[0])
    assert {
        "source",
        "train_id",
        "eval",
        "eval_id",
        "method",
        "score",
        "train_spans",
        "eval_spans",
    } <= set(match)
    # the spans point at the shared text in both
    train_text = f"Please help. {planted[0]}"
    (ts, te), (es, ee) = match["train_spans"][0], match["eval_spans"][0]
    assert train_text[ts:te] == planted[0][es:ee].rstrip() or train_text[ts:te] in planted[0]
    kept = (out / "kept" / "web.jsonl").read_text().splitlines()
    removed = (out / "removed" / "code.jsonl").read_text().splitlines()
    assert len(kept) == 120 and len(removed) == 5
    assert json.loads(removed[0])["matches"][0]["eval"] == "humaneval"
    lines = (out / "contamination.tsv").read_text().splitlines()
    assert lines[0] == "source\thumaneval" and len(lines) == 3
    assert "rows in 125, out 120" in result.output


def test_bad_rows_error_or_skip(tmp_path, make_row, pool_texts):
    pool = tmp_path / "pool.jsonl"
    _pool(pool, make_row, pool_texts, [])
    with open(pool, "a") as fh:
        fh.write("{not json\n")
    out = tmp_path / "out"
    args = ["decontam", "--train", str(pool), "--eval", "humaneval", "--out", str(out)]
    failed = CliRunner().invoke(main, args)
    assert failed.exit_code != 0 and "pool.jsonl" in failed.output
    skipped = CliRunner().invoke(main, [*args, "--on-bad-row", "skip"])
    assert skipped.exit_code == 0, skipped.output
    report = json.loads((out / "report.json").read_text())
    assert report["accounting"]["rejected"] == 1
    assert (out / "rejects.jsonl").read_text().count("\n") == 1


def test_unreachable_hub_eval_is_a_clear_error(tmp_path, make_row, pool_texts, monkeypatch):
    import decontam.evalsets as evalsets

    def offline(name, config, split):
        raise ConnectionError("no network")

    monkeypatch.setattr(evalsets, "_default_loader", offline)
    pool = tmp_path / "pool.jsonl"
    _pool(pool, make_row, pool_texts, [])
    result = CliRunner().invoke(
        main, ["decontam", "--train", str(pool), "--eval", "gsm8k", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0
    assert "gsm8k" in result.output and "--eval gsm8k=" in result.output
