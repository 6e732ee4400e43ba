"""`skillmix evals pull` into a pinned local folder, and offline audits with --eval-dir."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import decontam.evalsets as evalsets
from decontam import REGISTRY
from decontam.evaldir import EvalDirError, load_eval_dir, pull_evals
from decontam.evalsets import EvalSourceError, field_text
from skillmix.cli import main


def _value(field: str, text: str) -> object:
    return [f"{text} (a)", f"{text} (b)"] if field in ("choices", "options") else text


def _hub_folder(root: Path) -> dict[str, list[str]]:
    """Every registry set saved the way the hub lays it out, in the layouts seen there:
    `<config>/<split>-*.parquet`, `data/<split>-*.parquet`, the Parquet conversion's
    `<config>/<split>/0000.parquet`, a `<config>.csv` (gpqa) and a JSONL file. Returns each
    set's expected texts."""
    expected: dict[str, list[str]] = {}
    written: dict[tuple, list[str]] = {}  # ifbench and ifeval_ood share one repo
    for n, (name, spec) in enumerate(sorted(REGISTRY.items())):
        texts = expected[name] = []
        for part, (repo, config) in enumerate(spec.parts):
            if (repo, config) in written:
                texts.extend(written[repo, config])
                continue
            records = []
            for i in range(2):
                text = f"{repo} {config} instance {i}: what is {n * 7 + i} times {part + 3}?"
                record = {f: _value(f, f"{text} [{f}]") for f in spec.fields}
                if spec.id_field:
                    record[spec.id_field] = f"{name}-{part}-{i}"
                record["unused"] = 1
                records.append(record)
                texts.append(field_text(record, spec.fields))
            written[repo, config] = texts[-2:]
            base = root / repo
            if spec.data_files is not None:
                path = base / config / spec.split / "0000.parquet"
            elif name.startswith("gpqa"):
                path = base / f"{config}.csv"
            elif n % 3 == 0:
                path = base / (config or "default") / f"{spec.split}.jsonl"
            elif config is None:
                path = base / "data" / f"{spec.split}-00000-of-00001.parquet"
            else:
                path = base / config / f"{spec.split}-00000-of-00001.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".csv":
                pa_csv.write_csv(pa.Table.from_pylist(records), path)
            elif path.suffix == ".jsonl":
                path.write_text("".join(json.dumps(r) + "\n" for r in records))
            else:
                pq.write_table(pa.Table.from_pylist(records), path)
    return expected


@pytest.fixture
def no_hub(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the hub was asked for data")

    monkeypatch.setattr(evalsets, "_default_loader", refuse)


def test_pull_every_registry_set_from_a_hub_shaped_folder(tmp_path, no_hub):
    expected = _hub_folder(tmp_path / "hub")
    out = tmp_path / "evals"
    result = pull_evals(sorted(REGISTRY), out, folder=tmp_path / "hub", commit=None)
    assert not result.failed, result.failed
    index = json.loads((out / "index.json").read_text())["sets"]
    assert sorted(index) == sorted(REGISTRY)
    for name, texts in expected.items():
        entry = index[name]
        data = (out / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["rows"] == len(texts)
        assert [r for r, _ in REGISTRY[name].parts] == [h["repo"] for h in entry["hub"]]
        assert entry["revision"] == REGISTRY[name].revision
        lines = [json.loads(line) for line in data.decode().splitlines()]
        assert [line["text"] for line in lines] == texts
    loaded = {s.name: s for s in load_eval_dir(out)}
    assert loaded["bbh"].texts == expected["bbh"] and len(loaded["bbh"]) == 2 * 27
    assert loaded["mmlu"].ids[0] == "mmlu/0" and "[choices] (b)" in loaded["mmlu"].texts[0]
    assert loaded["xstest"].provenance["sha256"] == index["xstest"]["sha256"]
    # a second pull of one set keeps the other entries
    pull_evals(["gsm8k"], out, folder=tmp_path / "hub", commit=None)
    assert sorted(json.loads((out / "index.json").read_text())["sets"]) == sorted(REGISTRY)


def test_pull_pins_revision_records_commit_and_names_failures(tmp_path):
    calls = []

    def loader(name, config, split, **options):
        calls.append((name, options))
        if name == "cais/mmlu":
            raise ConnectionError("Couldn't reach the Hub")
        return [{"question": "How many legs has a spider?"}]

    result = pull_evals(
        ["gsm8k@3a1b2c", "mmlu"],
        tmp_path,
        loader=loader,
        commit=lambda repo, revision: f"commit-of-{repo}@{revision}",
    )
    assert calls[0] == ("openai/gsm8k", {"revision": "3a1b2c"})
    entry = result.pulled["gsm8k"]
    assert entry["revision"] == "3a1b2c" and entry["source"] == "hub"
    assert entry["hub"] == [
        {"repo": "openai/gsm8k", "config": "main", "commit": "commit-of-openai/gsm8k@3a1b2c"}
    ]
    error = result.failed["mmlu"]
    assert isinstance(error, EvalSourceError) and error.eval_name == "mmlu"
    assert "cais/mmlu" in str(error) and "ConnectionError" in str(error)
    assert sorted(json.loads((tmp_path / "index.json").read_text())["sets"]) == ["gsm8k"]
    with pytest.raises(ValueError, match="unknown evaluation set 'nope'"):
        pull_evals(["gsm8k", "nope"], tmp_path / "x", loader=loader)
    assert not (tmp_path / "x").exists()  # names are checked before anything is pulled


def test_pull_cli_names_the_set_and_repo_when_the_hub_is_unreachable(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'openai/gsm8k' on the Hub")

    monkeypatch.setattr(evalsets, "_default_loader", offline)
    result = CliRunner().invoke(main, ["evals", "pull", "gsm8k", "--to", str(tmp_path / "e")])
    assert result.exit_code == 1
    assert "'gsm8k'" in result.output and "openai/gsm8k" in result.output
    assert "1 of 1 sets not pulled" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "e" / "index.json").exists()
    missing = CliRunner().invoke(
        main, ["evals", "pull", "gsm8k", "--from", str(tmp_path), "--to", str(tmp_path / "e")]
    )
    assert missing.exit_code == 1 and f"no folder {tmp_path}/openai/gsm8k" in missing.output


def _pulled_gsm(tmp_path: Path, questions: list[str]) -> Path:
    repo = tmp_path / "hub" / "openai" / "gsm8k" / "main"
    repo.mkdir(parents=True)
    pq.write_table(
        pa.table({"question": questions, "answer": ["1"] * len(questions)}),
        repo / "test-00000-of-00001.parquet",
    )
    out = tmp_path / "evals"
    result = CliRunner().invoke(
        main,
        ["evals", "pull", "gsm8k", "humaneval", "--from", str(tmp_path / "hub"), "--to", str(out)],
    )
    assert result.exit_code == 1 and "humaneval" in result.output  # not in the folder
    assert CliRunner().invoke(main, ["evals", "verify", str(out)]).exit_code == 0
    return out


def _train(tmp_path: Path, texts: list[str]) -> Path:
    path = tmp_path / "train.jsonl"
    with open(path, "w") as fh:
        for i, text in enumerate(texts):
            fh.write(
                json.dumps(
                    {
                        "id": f"t{i}",
                        "source": "pool",
                        "messages": [
                            {"role": "user", "content": text},
                            {"role": "assistant", "content": "ok"},
                        ],
                    }
                )
                + "\n"
            )
    return path


def test_audit_from_eval_dir_is_offline_and_records_hash(tmp_path, gsm_questions, no_hub):
    out = _pulled_gsm(tmp_path, gsm_questions)
    sha = json.loads((out / "index.json").read_text())["sets"]["gsm8k"]["sha256"]
    train = _train(tmp_path, [f"Please solve: {gsm_questions[2]}", "Tell me a joke."])
    report_dir = tmp_path / "audit"
    result = CliRunner().invoke(
        main, ["decontam", "--train", str(train), "--eval-dir", str(out), "--out", str(report_dir)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((report_dir / "report.json").read_text())
    gsm = report["evals"]["gsm8k"]
    assert gsm["instances"] == len(gsm_questions) and gsm["contaminated"] == 1
    assert gsm["provenance"]["sha256"] == sha and gsm["provenance"]["revision"] is None
    assert gsm["provenance"]["hub"][0]["repo"] == "openai/gsm8k"
    assert report["sources"]["pool"]["flagged"] == 1
    # a registry name that was not pulled is an error, not a download
    absent = CliRunner().invoke(
        main,
        [
            "decontam",
            "--train",
            str(train),
            "--eval-dir",
            str(out),
            "--eval",
            "mmlu",
            "--out",
            str(report_dir),
        ],
    )
    assert absent.exit_code == 1 and "no evaluation set 'mmlu' pulled here" in absent.output
    assert "it has gsm8k" in absent.output


def test_eval_dir_refuses_a_changed_file(tmp_path, gsm_questions):
    out = _pulled_gsm(tmp_path, gsm_questions)
    sha = json.loads((out / "index.json").read_text())["sets"]["gsm8k"]["sha256"]
    path = out / "gsm8k.jsonl"
    path.write_text(path.read_text().replace("Natalia", "Natalie"))
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    train = _train(tmp_path, ["hello"])
    result = CliRunner().invoke(
        main,
        ["decontam", "--train", str(train), "--eval-dir", str(out), "--out", str(tmp_path / "a")],
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert str(path) in result.output and sha in result.output and actual in result.output
    verify = CliRunner().invoke(main, ["evals", "verify", str(out)])
    assert verify.exit_code == 1 and actual in verify.output
    (out / "index.json").write_text("{not json")
    with pytest.raises(EvalDirError, match="unreadable index"):
        load_eval_dir(out)
    with pytest.raises(EvalDirError, match="no index"):
        load_eval_dir(tmp_path / "hub")


def test_pipeline_decontaminate_stage_reads_a_pulled_folder(tmp_path, no_hub):
    from skillmix.pipeline import load_run_recipe, plan_run, run_pipeline
    from tests.skillmix.pipeline_helpers import LEAK, write_recipe, write_sources

    folder = tmp_path / "r"
    write_sources(folder)
    hub = folder / "hub" / "openai" / "gsm8k" / "main"
    hub.mkdir(parents=True)
    pq.write_table(
        pa.table({"question": [LEAK, "How far is the moon from the earth?"]}),
        hub / "test-00000-of-00001.parquet",
    )
    assert pull_evals(["gsm8k"], folder / "evals", folder=folder / "hub", commit=None).pulled
    stages = [{"decontaminate": {"evals": [], "eval_dir": "evals", "method": "ngram"}}, {"mix": {}}]
    recipe = load_run_recipe(write_recipe(folder, stages, total=60))
    run_pipeline(recipe, echo=lambda *a, **k: None)
    report = json.loads(
        next((folder / "run").glob("*decontaminate/report/report.json")).read_text()
    )
    assert report["evals"]["gsm8k"]["contaminated"] == 1
    assert report["sources"]["chat"]["flagged"] == 1
    assert (
        report["evals"]["gsm8k"]["provenance"]["sha256"]
        == json.loads((folder / "evals" / "index.json").read_text())["sets"]["gsm8k"]["sha256"]
    )
    assert all(p.action == "reuse" for p in plan_run(recipe))
    # a new pull (other content) changes the stage's key: it runs again
    (hub / "test-00000-of-00001.parquet").unlink()
    pq.write_table(
        pa.table({"question": ["What is the capital of France?"]}),
        hub / "test-00000-of-00001.parquet",
    )
    pull_evals(["gsm8k"], folder / "evals", folder=folder / "hub", commit=None)
    assert plan_run(recipe)[0].action != "reuse"


def test_evals_list_shows_every_entry_and_its_source():
    result = CliRunner().invoke(main, ["evals", "list"])
    assert result.exit_code == 0
    lines = {line.split("\t")[0]: line for line in result.output.splitlines()}
    assert set(lines) == set(REGISTRY)
    assert "SaylorTwift/bbh (27 configs)" in lines["bbh"] and "lukaemon" not in result.output
    assert "tatsu-lab/alpaca_eval @refs/convert/parquet" in lines["alpaca_eval"]
    assert "allenai/tulu-3-harmbench-eval" in lines["harmbench"]
