import json

import pytest

from decontam import REGISTRY, load_eval

NAMES = ["gsm8k", "math", "math500", "humaneval", "mbpp", "ifeval", "mmlu", "mmlu_pro", "bbh",
         "gpqa", "truthfulqa", "alpaca_eval", "drop", "popqa", "agieval", "bigcodebench",
         "ifbench"]


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
    rows = [{"id": "a", "question": "Q one?", "choices": ["x", "y"]},
            {"question": "Q two?", "choices": ["z"]}]
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
