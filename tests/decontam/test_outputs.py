import json

import pytest

from decontam import find_contamination
from decontam.html_report import highlight


def test_workers_give_the_same_result(tmp_path, make_row, pool_texts, gsm_eval, gsm_questions):
    rows = [make_row(i, t) for i, t in enumerate(pool_texts[:300])]
    rows += [make_row(1000 + i, f"Q: {q}", source="leak") for i, q in enumerate(gsm_questions)]
    one = find_contamination(rows, [gsm_eval], method="all", out_dir=tmp_path / "a", batch_size=37)
    two = find_contamination(
        rows, [gsm_eval], method="all", out_dir=tmp_path / "b", workers=2, batch_size=37
    )
    assert one.flagged == two.flagged
    assert one.flagged["leak"] == {f"leak-{1000 + i}" for i in range(5)}
    strip = [k for k in one.report if k != "config"]
    assert {k: one.report[k] for k in strip} == {k: two.report[k] for k in strip}
    a = sorted((tmp_path / "a" / "matches.jsonl").read_text().splitlines())
    b = sorted((tmp_path / "b" / "matches.jsonl").read_text().splitlines())
    assert a == b and len(a) == 15  # 5 rows x 3 methods


def test_rows_are_kept_plus_removed(tmp_path, make_row, pool_texts, gsm_eval, gsm_questions):
    rows = [make_row(i, t, source="s1" if i % 2 else "s2") for i, t in enumerate(pool_texts[:60])]
    rows += [make_row(500 + i, q, source="s1") for i, q in enumerate(gsm_questions[:3])]
    result = find_contamination(rows, [gsm_eval], method="ngram", out_dir=tmp_path, remove=True)
    for source in ("s1", "s2"):
        kept = (tmp_path / "kept" / f"{source}.jsonl").read_text().splitlines()
        removed_path = tmp_path / "removed" / f"{source}.jsonl"
        removed = removed_path.read_text().splitlines() if removed_path.exists() else []
        assert len(kept) + len(removed) == result.report["sources"][source]["rows"]
        assert len(removed) == result.report["sources"][source]["flagged"]
        ids = {json.loads(line)["id"] for line in kept}
        assert not ids & result.flagged[source]
    html = (tmp_path / "report.html").read_text()
    assert "<mark>" in html
    # self-contained: no scripts, no external stylesheets or images
    assert "<script" not in html and "src=" not in html and "<link" not in html


def test_highlight_escapes_and_marks():
    assert highlight("a <b> c", [[2, 5]]) == "a <mark>&lt;b&gt;</mark> c"


def test_outputs_are_atomic_a_failed_run_leaves_the_last_ones(
    tmp_path, make_row, gsm_eval, gsm_questions
):
    rows = [make_row(i, f"Q: {q}") for i, q in enumerate(gsm_questions)]
    find_contamination(rows, [gsm_eval], out_dir=tmp_path, remove=True)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"matches.jsonl", "report.json", "report.html", "contamination.tsv"} <= {
        str(p) for p in before
    }

    def failing():
        yield make_row(100, "Tell me about the moon.")
        yield make_row(101, f"Q: {gsm_questions[0]}")
        raise RuntimeError("the reader broke")

    with pytest.raises(RuntimeError, match="the reader broke"):
        find_contamination(failing(), [gsm_eval], out_dir=tmp_path, remove=True, batch_size=1)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # nothing half-written, no temp files left beside them
