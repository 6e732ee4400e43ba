import json

import pytest

from decontam import REGISTRY, load_eval

NAMES = [
    "gsm8k",
    "math",
    "math500",
    "humaneval",
    "mbpp",
    "ifeval",
    "mmlu",
    "mmlu_pro",
    "bbh",
    "gpqa",
    "truthfulqa",
    "alpaca_eval",
    "drop",
    "popqa",
    "agieval",
    "bigcodebench",
    "ifbench",
]


def test_registry_names():
    assert set(NAMES) <= set(REGISTRY)
    assert REGISTRY["gsm8k"].fields == ("question",)
    assert REGISTRY["mmlu"].fields == ("question", "choices")


def test_humaneval_offline():
    evalset = load_eval("humaneval")
    assert len(evalset) == 164
    assert evalset.ids[0] == "HumanEval/0"
    assert "def has_close_elements" in evalset.texts[0]


def test_local_file_specs(tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [
        {"id": "a", "question": "Q one?", "choices": ["x", "y"]},
        {"question": "Q two?", "choices": ["z"]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plain = load_eval(f"{path}:question")
    assert plain.name == "mine" and plain.texts == ["Q one?", "Q two?"]
    assert plain.ids[0] == "a"
    joined = load_eval(f"mmlu_local={path}:question+choices")
    assert joined.name == "mmlu_local" and joined.texts[0] == "Q one?\nx\ny"
    registry_fields = load_eval(f"mmlu={path}")
    assert registry_fields.texts[1] == "Q two?\nz"


def test_missing_field_and_unknown_name(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"prompt": "hi"}\n')
    with pytest.raises(ValueError, match="question"):
        load_eval(f"{path}:question")
    with pytest.raises(ValueError, match="unknown evaluation set"):
        load_eval("no_such_eval")
    with pytest.raises(ValueError, match="which field"):
        load_eval(str(path))


def test_hub_failure_names_dataset_and_local_copy():
    def offline(name, config, split):
        raise ConnectionError("Couldn't reach the Hub")

    with pytest.raises(RuntimeError) as info:
        load_eval("gsm8k", loader=offline)
    message = str(info.value)
    assert "'gsm8k'" in message and "openai/gsm8k" in message
    assert "--eval gsm8k=path/to/gsm8k.jsonl:question" in message


def test_hub_loader_used_for_registry_names():
    calls = []

    def fake(name, config, split):
        calls.append((name, config, split))
        return [{"question": f"q{len(calls)}"}]

    evalset = load_eval("gsm8k", loader=fake)
    assert calls == [("openai/gsm8k", "main", "test")]
    assert evalset.texts == ["q1"] and evalset.ids == ["gsm8k/0"]


def test_eval_file_problems_named_or_counted(tmp_path):
    from click.testing import CliRunner

    from decontam import EvalFileError
    from skillmix.cli import main

    path = tmp_path / "ev.jsonl"
    rows = [
        {"id": "a", "question": "What is two plus two?"},
        {"id": "b", "question": None},
        {"id": "a", "question": "Again?"},
        {"id": "c", "question": "   "},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(EvalFileError) as info:
        load_eval(f"{path}:question")
    assert (info.value.file, info.value.row) == (str(path), 2)
    assert "null or empty" in str(info.value)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:1] + rows[2:3]))
    with pytest.raises(EvalFileError, match="id 'a' appears twice"):
        load_eval(f"{path}:question")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    allowed = load_eval(f"{path}:question", allow_bad=True)
    assert allowed.ids == ["a"] and allowed.dropped == {"empty_text": 2, "duplicate_id": 1}
    train = tmp_path / "train.jsonl"
    messages = [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi"}]
    train.write_text(json.dumps({"id": "t", "source": "s", "messages": messages}) + "\n")
    out = tmp_path / "out"
    bad = CliRunner().invoke(
        main, ["decontam", "--train", str(train), "--eval", f"e={path}:question", "--out", str(out)]
    )
    assert bad.exit_code != 0 and "row 2" in bad.output and "--on-bad-row" not in bad.output
    ok = CliRunner().invoke(
        main,
        [
            "decontam",
            "--train",
            str(train),
            "--eval",
            f"e={path}:question",
            "--out",
            str(out),
            "--allow-bad-evals",
        ],
    )
    assert ok.exit_code == 0, ok.output
    report = json.loads((out / "report.json").read_text())
    assert report["evals"]["e"]["dropped"] == {"empty_text": 2, "duplicate_id": 1}


def test_script_repos_read_from_their_parquet_conversion():
    calls = []

    def fake(name, config, split, **options):
        calls.append((name, config, split, options))
        return [{"instruction": "Write a poem."}]

    evalset = load_eval("alpaca_eval", loader=fake)
    assert evalset.texts == ["Write a poem."]
    assert calls == [
        (
            "parquet",
            None,
            "train",
            {
                "data_files": (
                    "hf://datasets/tatsu-lab/alpaca_eval@refs%2Fconvert%2Fparquet/alpaca_eval/eval/"
                    "*.parquet"
                )
            },
        )
    ]
    for name in (
        "wildguardtest",
        "wildjailbreak_eval",
        "harmbench",
        "xstest",
        "do_anything_now",
        "trustllm_jailbreak",
        "humaneval_plus",
        "ifeval_ood",
        "gpqa_extended",
    ):
        assert name in REGISTRY
