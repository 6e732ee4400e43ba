"""The tagger's size follows its data; explicit settings win; no temp files survive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from curate.tagging import TagTrainConfig, predict, train_tagger
from curate.tagging.sizing import BUCKET_CEILING, BUCKET_FLOOR, NgramCounter, choose_size
from tests.curate.tagging.test_fasttext_tagger import labeled_rows, write_jsonl


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """The system temp dir, as the tagger sees it, is a fresh empty folder."""
    folder = tmp_path / "systmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _load(path):
    import fasttext

    return fasttext.load_model(str(path))


def test_counter_counts_fasttext_word_ngrams_and_stops_at_the_ceiling():
    counter = NgramCounter(2)
    counter.add("a b a b")  # bigrams: (a b), (b a), (b </s>)
    assert counter.distinct == 3 and counter.words == {"a", "b"}
    counter.add("héllo wörld")  # non-ASCII words count like any other
    assert counter.distinct == 5
    unigram = NgramCounter(1)
    unigram.add("a b c")
    assert unigram.distinct == 0
    assert choose_size(unigram, ["x", "y"]).bucket == 0  # fastText needs no buckets then
    big = NgramCounter(3)
    big.cap = 10
    big.add(" ".join(f"w{i}" for i in range(100)))
    assert big.distinct >= 10 and big.distinct < 200  # stopped adding past the cap


def test_choose_size_scales_with_data_within_floor_and_ceiling():
    counter = NgramCounter(2)
    counter.add("only three words")
    small = choose_size(counter, ["a", "b"])
    assert small.bucket == BUCKET_FLOOR and small.dim == 16 and not small.quantize
    counter._seen = set(range(100_000))
    mid = choose_size(counter, [f"l{i}" for i in range(12)])
    assert mid.bucket == 400_000 and mid.dim == 48 and mid.quantize  # 400k x 48 floats > 16 MB
    counter._seen = set(range(3_000_000))
    assert choose_size(counter, ["a"]).bucket == BUCKET_CEILING
    explicit = choose_size(counter, ["a"], bucket=123, dim=7, quantize=False)
    assert (explicit.bucket, explicit.dim, explicit.quantize) == (123, 7, False)
    big_by_hand = choose_size(counter, ["a"], bucket=BUCKET_CEILING, dim=64)
    assert big_by_hand.plain_bytes() > 500_000_000 and not big_by_hand.quantize
    assert choose_size(counter, ["a"], bucket=BUCKET_CEILING, quantize=True).quantize


def test_default_model_is_small_for_a_small_labelled_set(tmp_path, private_tmp):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(120))  # 480 rows, like the demo's labels
    model = tmp_path / "tagger.bin"
    report = train_tagger(labeled, model, TagTrainConfig(epoch=10))
    assert model.stat().st_size < 2 * 2**20  # the old defaults wrote 512 MB
    assert report.model["bytes"] == model.stat().st_size
    assert report.model["bucket"] == BUCKET_FLOOR and report.model["dim"] == 16
    saved = json.loads((tmp_path / "tagger.bin.report.json").read_text())
    assert saved["model"] == report.model
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "labeled.jsonl",
        "systmp",
        "tagger.bin",
        "tagger.bin.report.json",
    ]
    assert list(private_tmp.iterdir()) == []


def test_quality_unchanged_against_explicit_big_settings(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(60))
    small = train_tagger(labeled, tmp_path / "small.bin", TagTrainConfig(epoch=20))
    big_config = TagTrainConfig(epoch=20, bucket=500_000, dim=64, quantize=False)
    big = train_tagger(labeled, tmp_path / "big.bin", big_config)
    assert (tmp_path / "big.bin").stat().st_size > 50 * (tmp_path / "small.bin").stat().st_size
    assert small.accuracy == big.accuracy
    assert {k: (s.precision, s.recall) for k, s in small.per_skill.items()} == {
        k: (s.precision, s.recall) for k, s in big.per_skill.items()
    }
    pool = [r["messages"][0]["content"] for r in labeled_rows(10, seed=7)]
    small_model, big_model = _load(tmp_path / "small.bin"), _load(tmp_path / "big.bin")
    same = sum(predict(small_model, t)[0][0] == predict(big_model, t)[0][0] for t in pool)
    assert same >= len(pool) - 1


def test_explicit_settings_are_honoured(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(40))
    plain = train_tagger(
        labeled, tmp_path / "p.bin", TagTrainConfig(epoch=5, bucket=30_000, dim=24, quantize=False)
    )
    args = _load(tmp_path / "p.bin").f.getArgs()
    assert (args.bucket, args.dim) == (30_000, 24) and not _load(tmp_path / "p.bin").f.isQuant()
    assert plain.model["bucket"] == 30_000 and plain.model["dim"] == 24
    quantized = train_tagger(
        labeled, tmp_path / "q.bin", TagTrainConfig(epoch=5, bucket=30_000, dim=24, quantize=True)
    )
    model = _load(tmp_path / "q.bin")
    assert model.f.isQuant() and quantized.model["quantize"] is True
    assert (tmp_path / "q.bin").stat().st_size * 4 < (tmp_path / "p.bin").stat().st_size
    for s in quantized.per_skill.values():  # still separates the skills after quantizing
        assert s.precision >= 0.8 and s.recall >= 0.8


def test_quantized_model_is_deterministic_and_predicts_with_low_level_api(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(40))
    config = TagTrainConfig(epoch=20, dim=17, quantize=True)  # dim not a multiple of dsub=2
    train_tagger(labeled, tmp_path / "a.bin", config)
    train_tagger(labeled, tmp_path / "b.bin", config)
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    label, prob = predict(_load(tmp_path / "a.bin"), "python function return loop class")[0]
    assert label == "code" and 0.5 < prob <= 1.0001


def test_quantizing_too_little_data_is_a_named_error_and_leaves_nothing(tmp_path, private_tmp):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(3))
    model = tmp_path / "out" / "t.bin"
    config = TagTrainConfig(epoch=2, word_ngrams=1, quantize=True)  # a few dozen rows in all
    with pytest.raises(ValueError, match=r"labeled\.jsonl: cannot quantize the tagger"):
        train_tagger(labeled, model, config)
    assert list(model.parent.iterdir()) == [] and list(private_tmp.iterdir()) == []
    train_tagger(labeled, model, TagTrainConfig(epoch=2, word_ngrams=1))  # default: no quantize
    assert model.exists()


def test_failure_mid_read_leaves_no_temp_files(tmp_path, private_tmp):
    labeled = tmp_path / "labeled.jsonl"
    rows = labeled_rows(20)
    rows[30]["messages"] = "not a list"
    write_jsonl(labeled, rows)
    out = tmp_path / "out"
    with pytest.raises(Exception, match="row 31"):
        train_tagger(labeled, out / "t.bin", TagTrainConfig(epoch=2))
    assert list(out.iterdir()) == [] and list(private_tmp.iterdir()) == []


def test_without_memfd_the_temp_dir_is_used_and_emptied(tmp_path, private_tmp, monkeypatch):
    import fasttext

    seen = []
    real = fasttext.train_supervised

    def spy(**kw):
        seen.append(kw["input"])
        return real(**kw)

    monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr(fasttext, "train_supervised", spy)
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(20))
    train_tagger(labeled, tmp_path / "t.bin", TagTrainConfig(epoch=2))
    assert seen and Path(seen[0]).is_relative_to(private_tmp)  # not the memfd
    assert list(private_tmp.iterdir()) == []


def test_failure_inside_fasttext_leaves_no_temp_files(tmp_path, private_tmp, monkeypatch):
    import fasttext

    def nan(**kw):
        assert Path(kw["input"]).read_text().startswith("__label__")  # the text is there
        raise RuntimeError("Encountered NaN.")  # what a bad fastText build does mid-train

    monkeypatch.setattr(fasttext, "train_supervised", nan)
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(20))
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="NaN"):
        train_tagger(labeled, out / "t.bin", TagTrainConfig(epoch=2))
    assert list(out.iterdir()) == [] and list(private_tmp.iterdir()) == []


def test_training_shows_fasttexts_bar_only_when_bars_are_on(tmp_path, monkeypatch, capfd):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(20))
    monkeypatch.setenv("SKILLMIX_PROGRESS", "1")
    train_tagger(labeled, tmp_path / "on.bin", TagTrainConfig(epoch=2))
    shown = capfd.readouterr()
    assert "Progress: 100.0%" in shown.err and "ETA" in shown.err  # fastText writes to fd 2
    assert "80row" in shown.err and "Progress" not in shown.out
    monkeypatch.setenv("SKILLMIX_PROGRESS", "0")
    train_tagger(labeled, tmp_path / "off.bin", TagTrainConfig(epoch=2))
    quiet = capfd.readouterr()
    assert quiet.err == "" and quiet.out == ""


KILLED_TRAIN = """
import os, signal, sys
import fasttext
from curate.tagging import TagTrainConfig, train_tagger

real = fasttext.train_supervised
def train_then_die(**kw):
    real(**kw)
    os.kill(os.getpid(), signal.SIGKILL)  # killed between training and saving
fasttext.train_supervised = train_then_die
train_tagger(sys.argv[1], sys.argv[2], TagTrainConfig(epoch=2))
"""


def test_kill_during_training_leaves_no_temp_files(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(30))
    systmp, out = tmp_path / "systmp", tmp_path / "out"
    systmp.mkdir()
    env = {**os.environ, "TMPDIR": str(systmp)}
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_TRAIN, str(labeled), str(out / "t.bin")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert list(out.iterdir()) == [] and list(systmp.iterdir()) == []
