"""The run report draws each stage by what it does: flows for filters, sources and
upsampling for mixes, the loss curve for training; histograms and the skill chart per mix."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections import Counter
from html.parser import HTMLParser
from itertools import pairwise

import pytest

from manifests.shards import write_shards
from skillmix.pipeline.report import render_run_report
from skillmix.pipeline.report_data import bin_counts

EVIL = "<script>alert('x')</script>"
SKILL = "数学"  # non-Latin skill name
EVIL_SHOWN = html.escape(EVIL)


def _acc(rows_in, rows_out, removed=None, rejected=0):
    return {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "removed": removed or {},
        "rejected": rejected,
    }


def _rows(n: int, source: str, skill: str, turns: int) -> list[dict]:
    rows = []
    for i in range(n):
        messages = []
        for t in range(turns // 2):
            messages.append({"role": "user", "content": " ".join(["w"] * (i % 7 + 1 + t))})
            messages.append({"role": "assistant", "content": "ok done"})
        rows.append(
            {
                "id": f"{source}-{i}",
                "source": source,
                "skill": skill,
                "messages": messages,
                "metadata": "{}",
            }
        )
    return rows


def _source(name, skill, available, selected, out):
    return {
        "name": name,
        "skill": skill,
        "available": available,
        "selected": selected,
        "rows_out": out,
        "upsample_factor": out / selected,
        "rejected": 0,
        "decontaminated": 0,
        "deduplicated": {"exact": 0, "minhash": 0},
        "not_drawn": available - selected,
    }


LOSSES = [(1, 7.25), (2, 7.0), (3, 6.5), (4, 6.125), (5, 5.75)]


@pytest.fixture
def run(tmp_path):
    """A run dir by hand: dedup and decontaminate stages, a mix with one upsampled source
    (rows 10 selected of 10, 15 in the mix), a train stage with metrics.jsonl."""
    run_dir = tmp_path / "run"
    mix_dir = run_dir / "02-mix" / "mix"
    rows = _rows(15, EVIL, SKILL, 4) + _rows(8, "plain", "chat", 2)
    write_shards(
        rows,
        mix_dir,
        "sft",
        max_rows=10,
        manifest_extra={
            "sources": [_source(EVIL, SKILL, 10, 10, 15), _source("plain", "chat", 20, 8, 8)],
            "recipe": {"dedup": {"exact": False, "minhash": None}, "decontaminate": None},
        },
    )
    metrics = run_dir / "03-train" / "model" / "metrics.jsonl"
    metrics.parent.mkdir(parents=True)
    lines = [json.dumps({"step": s, "loss": v, "tokens": 100}) for s, v in LOSSES]
    lines.insert(2, "{not json")
    lines.insert(4, json.dumps({"step": 3, "eval_loss": 1.0}))  # no loss: left out, counted
    metrics.write_text("\n".join(lines) + "\n")
    records = [
        {
            "stage": f"dedup {EVIL}",
            "type": "dedup",
            "accounting": _acc(40, 30, {"duplicate_exact": 6, "duplicate_near": 4}),
            "per_source": {EVIL: _acc(14, 10, {"duplicate_exact": 4}), "plain": _acc(26, 20)},
            "reports": {},
            "products": {},
            "summary": {},
        },
        {
            "stage": "decon",
            "type": "decontaminate",
            "accounting": _acc(30, 30),
            "per_source": {EVIL: _acc(10, 10), "plain": _acc(20, 20)},
            "reports": {},
            "products": {},
            "summary": {},
        },
        {
            "stage": "mix",
            "type": "mix",
            "accounting": _acc(30, 18, {"not_drawn": 12}),
            "per_source": {},
            "reports": {"manifest": "02-mix/mix/manifest.json"},
            "products": {"mix": {"stage": "mix", "kind": "sft", "dir": str(mix_dir)}},
            "summary": {"rows": 23, "shards": 3},
        },
        {
            "stage": "train",
            "type": "train",
            "options": {"method": "sft"},
            "accounting": _acc(2400, 2400),
            "per_source": {"training data": _acc(2400, 2400)},
            "reports": {"metrics": "03-train/model/metrics.jsonl"},
            "products": {"model": str(run_dir / "03-train" / "model" / "final")},
            "summary": {"steps": 5, "final_loss": 5.75},
        },
    ]
    return run_dir, records, rows


def _section(page: str, css_class: str) -> str:
    match = re.search(rf'<section id="[^"]+" class="{css_class}">(.*?)</section>', page, re.S)
    assert match, f"no {css_class} section"
    return match.group(1)


def _figure(section: str, css_class: str) -> str:
    match = re.search(rf'<figure class="{css_class}">(.*?)</figure>', section, re.S)
    assert match, f"no {css_class} figure"
    return match.group(1)


def test_loss_curve_points_are_the_metrics_lines(run):
    run_dir, records, _ = run
    train = _section(render_run_report(run_dir, "r", records), "train")
    points = [
        (float(x), float(y))
        for x, y in re.findall(r'class="pt"[^>]*data-x="([^"]+)" data-y="([^"]+)"', train)
    ]
    assert points == [(float(s), v) for s, v in LOSSES]
    assert "2 line(s) without a step and a loss" in train
    assert "<td>5.7500</td>" in train and "<td>500</td>" in train  # final loss, tokens
    assert "<svg" in _figure(train, "loss") and ">step</text>" in train


def test_train_is_not_drawn_as_a_flow(run):
    run_dir, records, _ = run
    page = render_run_report(run_dir, "r", records)
    flows = re.findall(r'<tr id="stage-\d+" class="flow"><td class="l">([^<]*)</td>', page)
    assert flows == [f"dedup {EVIL_SHOWN}", "decon"]
    svg = re.search(r'<svg[^>]*class="flows">(.*?)</svg>', page, re.S).group(1)
    assert "train" not in svg and "2,400" not in svg
    assert "in 2,400 → out 2,400" not in page


def test_histograms_hold_every_row_and_turns_are_counted_right(run):
    run_dir, records, rows = run
    mix = _section(render_run_report(run_dir, "r", records), "mix")
    lengths = [int(n) for n in re.findall(r'data-count="(\d+)"', _figure(mix, "lengths"))]
    turns = [int(n) for n in re.findall(r'data-count="(\d+)"', _figure(mix, "turns"))]
    assert sum(lengths) == len(rows) == sum(turns)
    assert turns == [8, 0, 15]  # 2 turns, 3 turns, 4 turns
    assert "whitespace words" in _figure(mix, "lengths")  # no tokenizer saved by the train
    words = [sum(len(m["content"].split()) for m in r["messages"]) for r in rows]
    assert lengths == [n for _, _, n in bin_counts(words)]
    shares = dict(
        re.findall(
            r"<text[^>]*>([^<]+)<title>[^<]*</title></text>"
            r'<rect class="share"[^>]*data-rows="(\d+)"',
            _figure(mix, "skills"),
        )
    )
    assert shares == {SKILL: "15", "chat": "8"}


def test_the_upsampled_source_shows_its_factor_and_repeats(run):
    run_dir, records, _ = run
    mix = _section(render_run_report(run_dir, "r", records), "mix")
    by_source = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<tr class="source"><td class="l">([^<]*)</td>.*?</tr>', mix, re.S)
    }
    evil = by_source[EVIL_SHOWN]
    assert '<b class="factor">×1.50</b> (+5)' in evil
    assert 'fill="url(#hatch)" data-label="repeated by upsampling" data-value="5"' in evil
    plain = by_source["plain"]
    assert "factor" not in plain and 'data-label="available, not drawn" data-value="12"' in plain
    assert "= 18 selected of 30 available + 5 repeated by upsampling" in mix


def test_mix_table_points_to_the_stage_that_deduplicated_and_decontaminated(run):
    run_dir, records, _ = run
    page = render_run_report(run_dir, "r", records)
    mix = _section(page, "mix")
    assert "0 exact" not in mix and "0 near" not in mix
    links = re.findall(r'<a href="#(stage-\d+)" class="earlier">([^<]*)</a>([^<]*)', mix)
    assert ("stage-0", f"dedup {EVIL_SHOWN}", " −4") in links
    assert ("stage-1", "decon", " (0 here)") in links
    assert 'id="stage-0" class="flow"' in page and 'id="stage-1" class="flow"' in page


def test_mix_that_deduplicated_itself_shows_its_own_counts(run):
    run_dir, records, _ = run
    manifest_path = run_dir / "02-mix" / "mix" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["recipe"]["dedup"] = {"exact": True, "minhash": None}
    manifest["sources"][1]["deduplicated"] = {"exact": 3, "minhash": 0}
    manifest_path.write_text(json.dumps(manifest))
    mix = _section(render_run_report(run_dir, "r", records[2:]), "mix")
    assert 'class="earlier"' not in mix.split("decontaminated")[0]
    assert '<td class="l">3</td><td class="l"><span class="muted">not run</span>' in mix


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.urls = Counter(), []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def test_names_are_escaped_and_the_page_needs_nothing_online(run):
    run_dir, records, _ = run
    page = render_run_report(run_dir, EVIL, records)
    assert EVIL not in page and "&lt;script&gt;" in page
    assert SKILL in page
    parser = _Tags()
    parser.feed(page)
    assert parser.tags["script"] == 0 and parser.tags["img"] == 0 and parser.tags["link"] == 0
    assert all(not re.match(r"[a-z]+://", url) for url in parser.urls), parser.urls


def test_lengths_count_tokens_with_the_train_stage_tokenizer(run):
    from transformers import AutoTokenizer

    from trainers.tiny_model import build_tiny_model

    run_dir, records, rows = run
    build_tiny_model(["rivers and tides"] * 4, run_dir / "03-train" / "model" / "final", layers=1)
    mix = _section(render_run_report(run_dir, "r", records), "mix")
    lengths = _figure(mix, "lengths")
    assert "tokens (tokenizer of stage train)" in lengths
    counts = [int(n) for n in re.findall(r'data-count="(\d+)"', lengths)]
    tok = AutoTokenizer.from_pretrained(run_dir / "03-train" / "model" / "final")
    texts = ["\n".join(m["content"] for m in r["messages"]) for r in rows]
    expected = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert counts == [n for _, _, n in bin_counts(expected)] and sum(counts) == len(rows)
    words = [len(t.split()) for t in texts]
    assert expected != words  # tokens, not words, were counted


def test_training_without_metrics_says_so(run):
    run_dir, records, _ = run
    (run_dir / "03-train" / "model" / "metrics.jsonl").unlink()
    train = _section(render_run_report(run_dir, "r", records), "train")
    assert "No metrics.jsonl was written" in train and 'class="pt"' not in train


def test_bins_cover_every_value_once():
    values = [0, 1, 1, 5, 99, 100, 37, 37, 37]
    bins = bin_counts(values, bins=5)
    assert sum(n for _, _, n in bins) == len(values)
    assert bins[0][0] == 0 and bins[-1][1] > 100
    assert all(b[1] == c[0] for b, c in pairwise(bins))
    assert bin_counts([]) == []
    assert bin_counts([2, 4, 4]) == [(2, 3, 1), (3, 4, 0), (4, 5, 2)]


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_unreadable_shards_are_named_and_the_page_still_written(run, damage):
    run_dir, records, _ = run
    shard = sorted((run_dir / "02-mix" / "mix").glob("shard-*.arrow"))[1]
    if damage == "truncate":
        shard.write_bytes(shard.read_bytes()[:100])
    else:
        shard.unlink()
    page = render_run_report(run_dir, "r", records)
    mix = _section(page, "mix")
    assert "The shards could not be read for the pictures" in mix
    assert ("FileNotFoundError" in mix) == (damage == "delete")
    assert '<b class="factor">×1.50</b>' in mix  # the table comes from the manifest
    assert 'class="pt"' in _section(page, "train")


def test_a_mix_whose_folder_is_gone_is_said(run):
    run_dir, records, _ = run
    shutil.rmtree(run_dir / "02-mix")
    page = render_run_report(run_dir, "r", records)
    assert 'id="stage-2"' in page and "Its manifest.json is gone" in page


def test_a_broken_tokenizer_falls_back_to_words_and_says_why(run):
    run_dir, records, rows = run
    final = run_dir / "03-train" / "model" / "final"
    final.mkdir(parents=True)
    (final / "tokenizer.json").write_text("{not a tokenizer")
    lengths = _figure(_section(render_run_report(run_dir, "r", records), "mix"), "lengths")
    assert "whitespace words (the tokenizer did not load: " in lengths
    assert sum(int(n) for n in re.findall(r'data-count="(\d+)"', lengths)) == len(rows)


def test_a_sampled_profile_takes_every_nth_row_across_shards_and_batches(tmp_path):
    from manifests.shards import load_manifest, write_shards
    from skillmix.pipeline.report_data import profile_mix, whitespace_words

    rows = [
        {
            "id": f"r{i}",
            "source": "s",
            "skill": ["数学", "code", "chat"][i % 3],
            "messages": [
                {"role": "user", "content": "w " * (i % 17 + 1)},
                {"role": "assistant", "content": "ok"},
            ]
            + [{"role": "user", "content": "more"}, {"role": "assistant", "content": "ok"}]
            * (i % 2),
            "metadata": "{}",
        }
        for i in range(2500)
    ]
    # 3 shards of 901, 901 and 698 rows: the sample's offset moves at each shard boundary
    write_shards(rows, tmp_path / "mix", "sft", max_rows=901)
    manifest = load_manifest(tmp_path / "mix")
    assert len(manifest["shards"]) == 3
    got = profile_mix(tmp_path / "mix", manifest, whitespace_words, "words", limit=700)
    every = 4  # ceil(2500 / 700)
    want = [r for i, r in enumerate(rows) if i % every == 0]
    assert got.profiled == len(want) == 625
    assert got.turns == [len(r["messages"]) for r in want]
    assert got.lengths == [i % 17 + 2 + 2 * (i % 2) for i in range(0, 2500, every)]
    assert dict(got.skills) == {"数学": 834, "code": 833, "chat": 833}
