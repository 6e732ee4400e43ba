import json
import random

from click.testing import CliRunner

from curate.tagging import TagTrainConfig, apply_tagger, score, train_tagger
from skillmix.cli import main

VOCAB = {
    "math": "integral derivative prove theorem prime polynomial equation matrix limit sum",
    "code": "python function list return loop class string parse bug compile",
    "precise_if": "respond words paragraph bullet lowercase title json format sentences comma",
    "chat": "recipe travel weather movie friend advice holiday music garden coffee",
}
FILLER = ["the", "a", "please", "can", "you", "help", "me", "with", "this", "about", "and", "of"]


def text_for(skill: str, rng: random.Random) -> str:
    words = rng.choices(VOCAB[skill].split(), k=5) + rng.choices(FILLER, k=5)
    rng.shuffle(words)
    return " ".join(words)


def labeled_rows(n_per_skill: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for skill in VOCAB:
        for i in range(n_per_skill):
            rows.append(
                {
                    "id": f"{skill}-{seed}-{i}",
                    "source": "pool",
                    "skill": skill,
                    "messages": [
                        {"role": "user", "content": text_for(skill, rng)},
                        {"role": "assistant", "content": "ok"},
                    ],
                    "metadata": "{}",
                }
            )
    return rows


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_score_per_skill_precision_recall():
    accuracy, per = score(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert accuracy == 0.75
    assert (per["a"].precision, per["a"].recall) == (1.0, 0.5)
    assert (per["b"].precision, per["b"].recall, per["b"].support) == (0.6667, 1.0, 2)


def test_train_reports_held_out_precision_recall_and_apply_tags(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(60))
    model = tmp_path / "tagger.bin"
    config = TagTrainConfig(valid_fraction=0.25, epoch=20, bucket=10_000)
    report = train_tagger(labeled, model, config)
    assert report.train_rows + report.valid_rows == 240 and report.valid_rows > 30
    assert set(report.per_skill) == set(VOCAB)
    for s in report.per_skill.values():  # clearly separable skills
        assert s.precision >= 0.8 and s.recall >= 0.8
    saved = json.loads((tmp_path / "tagger.bin.report.json").read_text())
    assert saved["accuracy"] == report.accuracy and saved["accounting"]["rows_in"] == 240

    pool = tmp_path / "pool.jsonl"
    unlabeled = labeled_rows(5, seed=1)
    for row in unlabeled:
        row["skill"] = "unknown"
    write_jsonl(pool, unlabeled)
    out = tmp_path / "tagged.jsonl"
    acc = apply_tagger(model, pool, out)
    assert acc.rows_in == acc.rows_out == 20
    tagged = [json.loads(line) for line in out.read_text().splitlines()]
    right = sum(row["skill"] == row["id"].split("-")[0] for row in tagged)
    assert right >= 18
    meta = json.loads(tagged[0]["metadata"])
    assert 0 < meta["skill_confidence"] <= 1.0001 and meta["skill_before_tagging"] == "unknown"


def test_min_confidence_keeps_the_old_skill(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(30))
    model = tmp_path / "m.bin"
    train_tagger(labeled, model, TagTrainConfig(epoch=5, bucket=10_000))
    pool = tmp_path / "pool.jsonl"
    write_jsonl(pool, labeled_rows(2, seed=3))
    out = tmp_path / "out.jsonl"
    apply_tagger(model, pool, out, min_confidence=1.01)  # nothing is that sure
    for line in out.read_text().splitlines():
        row = json.loads(line)
        meta = json.loads(row["metadata"])
        assert row["skill"] == meta["skill_before_tagging"] and "skill_predicted" in meta


def test_cli_tag_train_and_apply(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(40))
    runner = CliRunner()
    trained = runner.invoke(
        main,
        [
            "tag",
            "train",
            str(labeled),
            str(tmp_path / "t.bin"),
            "--epoch",
            "10",
            "--bucket",
            "10000",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert "precision" in trained.output and "recall" in trained.output
    for skill in VOCAB:
        assert skill in trained.output
    pool = tmp_path / "pool.jsonl"
    write_jsonl(pool, labeled_rows(3, seed=2))
    with pool.open("a") as fh:
        fh.write('{"id": "x", "messages": "not a list"}\n')
    applied = runner.invoke(
        main,
        [
            "tag",
            "apply",
            str(tmp_path / "t.bin"),
            str(pool),
            str(tmp_path / "out.arrow"),
            "--on-bad-row",
            "skip",
        ],
    )
    assert applied.exit_code == 0, applied.output
    assert "rows in 13, out 12" in applied.output and "rejected 1" in applied.output


def test_cli_tag_train_defaults_size_the_model_from_the_data(tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    write_jsonl(labeled, labeled_rows(300))
    runner = CliRunner()
    plain = runner.invoke(main, ["tag", "train", str(labeled), str(tmp_path / "a.bin")])
    assert plain.exit_code == 0, plain.output
    report = json.loads((tmp_path / "a.bin.report.json").read_text())
    assert report["model"]["bucket"] < 2_000_000 and not report["model"]["quantize"]
    assert (tmp_path / "a.bin").stat().st_size < 2 * 2**20  # the old CLI defaults: 512 MB
    quant = runner.invoke(
        main, ["tag", "train", str(labeled), str(tmp_path / "q.bin"), "--quantize"]
    )
    assert quant.exit_code == 0, quant.output
    assert json.loads((tmp_path / "q.bin.report.json").read_text())["model"]["quantize"]
    assert (tmp_path / "q.bin").stat().st_size < (tmp_path / "a.bin").stat().st_size
