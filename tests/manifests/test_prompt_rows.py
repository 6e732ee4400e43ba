"""The `prompt` contract: prompt-only rows from every chat shape, and rows read as prompts."""

from __future__ import annotations

import json

import pytest

from manifests import (
    BadRowError,
    detect_kind,
    prompt_row,
    read_rows,
    schema_for,
    to_contract,
    validate_row,
    write_rows,
)


def _contract(record: dict, kind: str | None = None) -> dict:
    return to_contract(record, kind or detect_kind(record), file="in.jsonl", row=1)


def test_prompt_schema_has_no_answer_fields():
    assert schema_for("prompt").names == ["id", "source", "skill", "messages", "metadata"]


@pytest.mark.parametrize(
    "record",
    [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Name a prime."},
            ]
        },
        {"conversations": [{"from": "human", "value": "Name a prime."}]},
        {"instruction": "Name a prime.", "input": ""},
        {"prompt": "Name a prime."},
        {"messages": json.dumps([{"role": "user", "content": "Name a prime."}])},  # CSV cell
    ],
    ids=["messages", "sharegpt", "alpaca", "prompt", "json-cell"],
)
def test_prompt_only_shapes_are_detected_as_prompts(record):
    assert detect_kind(record) == "prompt"
    row = _contract(record)
    assert row["messages"][-1] == {"role": "user", "content": "Name a prime."}
    assert "turns_left_out" not in json.loads(row["metadata"])


@pytest.mark.parametrize(
    "record",
    [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
        {"instruction": "q", "output": "a"},
        {"prompt": "q", "completion": "a"},
    ],
)
def test_rows_with_answers_are_not_prompts_unless_asked(record):
    assert detect_kind(record) == "sft"
    row = _contract(record, "prompt")
    assert row["messages"] == [{"role": "user", "content": "q"}]
    assert json.loads(row["metadata"])["turns_left_out"] == 1


def test_multi_turn_prompt_keeps_context_up_to_the_last_user_turn():
    turns = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and now?"},
        {"role": "assistant", "content": "this"},
    ]
    row = _contract({"messages": turns}, "prompt")
    assert row["messages"] == turns[:3]
    assert json.loads(row["metadata"])["turns_left_out"] == 1
    assert detect_kind({"messages": turns[:3]}) == "prompt"


def test_rlvr_record_read_as_prompt_keeps_its_check_in_metadata():
    record = {
        "messages": [{"role": "user", "content": "2+2?"}],
        "ground_truth": "4",
        "dataset": "gsm8k",
    }
    assert detect_kind(record) == "rlvr"
    row = _contract(record, "prompt")
    meta = json.loads(row["metadata"])
    assert (meta["ground_truth"], meta["verifier"]) == ("4", "gsm8k")
    assert set(row) == {"id", "source", "skill", "messages", "metadata"}


def test_prompt_row_from_each_contract_kind():
    rlvr = _contract(
        {
            "id": "r1",
            "messages": [{"role": "user", "content": "2+2?"}],
            "ground_truth": {"a": 1},
            "verifier": "ifeval",
        }
    )
    pref = _contract({"id": "p1", "prompt": "q", "chosen": "good", "rejected": "bad"})
    sft = _contract({"id": "s1", "instruction": "q", "output": "a"})
    for row in (rlvr, pref, sft):
        prompt = prompt_row(row)
        validate_row(prompt, "prompt")
        assert prompt["id"] == row["id"]  # lineage: same prompt, same id
        assert prompt["messages"][-1]["role"] == "user"
    assert json.loads(prompt_row(rlvr)["metadata"])["ground_truth"] == '{"a":1}'
    assert json.loads(prompt_row(pref)["metadata"])["prompt_of"] == "preference"


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"messages": [{"role": "system", "content": "only a system turn"}]}, "no user turn"),
        ({"messages": []}, "no user turn"),
        ({"prompt": None, "text": "x"}, "no prompt"),
        (
            {"messages": [{"role": "robot", "content": "x"}, {"role": "user", "content": "q"}]},
            "role",
        ),
    ],
)
def test_bad_prompt_rows_are_named(record, problem):
    with pytest.raises(ValueError, match=problem):
        _contract(record, "prompt")


def test_a_prompt_must_end_with_the_user_turn():
    row = {
        "id": "x",
        "source": "s",
        "skill": "general",
        "metadata": "{}",
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
    }
    with pytest.raises(ValueError, match="ends with a user turn"):
        validate_row(row, "prompt")


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".arrow", ".csv"])
def test_prompt_rows_round_trip_with_non_latin_text(tmp_path, suffix):
    src = tmp_path / "prompts.jsonl"
    texts = ["写一首关于秋天的诗。", "اكتب قصيدة عن الخريف", "Écris un poème 🍂", "秋の俳句を"]
    src.write_text(
        "\n".join(
            json.dumps({"messages": [{"role": "user", "content": t}]}, ensure_ascii=False)
            for t in texts
        )
        + "\n",
        encoding="utf-8",
    )
    rows = list(read_rows(src))
    out = tmp_path / f"out{suffix}"
    write_rows(rows, out, "prompt")
    back = list(read_rows(out, "prompt"))
    assert [r["messages"][0]["content"] for r in back] == texts
    assert [r["id"] for r in back] == [r["id"] for r in rows]


def test_prompt_file_with_an_answered_row_names_the_row(tmp_path):
    src = tmp_path / "mixed.jsonl"
    src.write_text(
        json.dumps({"messages": [{"role": "user", "content": "q"}]})
        + "\n"
        + json.dumps(
            {"messages": [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "a"}]}
        )
        + "\n"
    )
    # Detected from the first row as prompts; read as sft, the first row is named.
    assert [len(r["messages"]) for r in read_rows(src)] == [1, 1]
    with pytest.raises(BadRowError, match=r"mixed.jsonl.*row 1.*no assistant turn"):
        list(read_rows(src, "sft"))
