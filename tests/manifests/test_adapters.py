from __future__ import annotations

import json

import pytest

from manifests import detect_kind, to_contract, validate_row


def convert(record: dict, kind: str, **kw) -> dict:
    return to_contract(record, kind, file="in.jsonl", row=3, **kw)


def test_messages_shape_keeps_id_and_adds_lineage():
    row = convert(
        {
            "id": 12,
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
        },
        "sft",
    )
    assert row["id"] == "12"
    assert row["source"] == "in"
    assert row["skill"] == "general"
    assert json.loads(row["metadata"]) == {"file": "in.jsonl", "row": 3}


def test_sharegpt_roles_are_mapped():
    row = convert(
        {
            "conversations": [
                {"from": "system", "value": "s"},
                {"from": "human", "value": "q"},
                {"from": "gpt", "value": "a"},
            ]
        },
        "sft",
    )
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert [m["content"] for m in row["messages"]] == ["s", "q", "a"]


def test_alpaca_joins_instruction_and_input():
    row = convert({"instruction": "Sum these.", "input": "2 3", "output": "5"}, "sft")
    assert row["messages"] == [
        {"role": "user", "content": "Sum these.\n\n2 3"},
        {"role": "assistant", "content": "5"},
    ]


def test_prompt_completion_strings_and_lists():
    a = convert({"prompt": "p", "completion": "c"}, "sft")
    b = convert(
        {
            "prompt": [{"role": "user", "content": "p"}],
            "completion": [{"role": "assistant", "content": "c"}],
        },
        "sft",
    )
    assert a["messages"] == b["messages"]
    assert a["id"] == b["id"], "the id hashes the content, not the input shape"


def test_trl_preference_strings_get_the_prompt_prepended():
    row = convert({"prompt": "q", "chosen": "good", "rejected": "bad"}, "preference")
    assert row["chosen"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "good"},
    ]
    assert row["rejected"][-1] == {"role": "assistant", "content": "bad"}


def test_tulu_rlvr_row_loads_unchanged():
    record = {
        "messages": [{"role": "user", "content": "2+3?"}],
        "ground_truth": "5",
        "dataset": "MATH",
        "source": "tulu",
    }
    row = convert(record, detect_kind(record))
    assert (row["verifier"], row["ground_truth"], row["source"]) == ("math", "5", "tulu")
    validate_row(row, "rlvr")


def test_non_string_ground_truth_is_json():
    row = convert(
        {"prompt": "x", "ground_truth": {"instruction_id_list": ["a"]}, "verifier": "ifeval"},
        "rlvr",
    )
    assert json.loads(row["ground_truth"]) == {"instruction_id_list": ["a"]}


def test_mapping_renames_fields():
    row = convert(
        {"q": "why?", "a": "because"},
        "sft",
        mapping={"instruction": "q", "output": "a"},
        source="faq",
        skill="chat",
    )
    assert row["messages"][1]["content"] == "because"
    assert (row["source"], row["skill"]) == ("faq", "chat")


def test_same_input_gives_same_id_and_other_source_another():
    record = {"prompt": "p", "completion": "c"}
    assert convert(record, "sft")["id"] == convert(dict(record), "sft")["id"]
    assert convert(record, "sft")["id"] != convert(record, "sft", source="other")["id"]


@pytest.mark.parametrize(
    ("record", "kind", "needle"),
    [
        ({"text": "x"}, "sft", "no recognized shape"),
        ({"messages": "hello"}, "sft", "'messages'"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "sft", ".role"),
        ({"messages": [{"role": "user", "content": 5}]}, "sft", ".content"),
        ({"messages": [{"role": "user", "content": "only a question"}]}, "sft", "assistant"),
        ({"instruction": "x"}, "sft", "'output'"),
        ({"chosen": "a", "rejected": "b"}, "preference", "'prompt'"),
        ({"prompt": "x", "ground_truth": "1"}, "rlvr", "'verifier'"),
        ({"q": "x"}, "sft", "mapped field 'nope'"),
    ],
)
def test_errors_name_the_field(record, kind, needle):
    mapping = {"instruction": "nope"} if "q" in record else None
    with pytest.raises(ValueError, match=None) as info:
        convert(record, kind, mapping=mapping)
    assert needle in str(info.value)


def test_validate_row_rejects_extra_and_missing_fields(sft_row):
    validate_row(sft_row, "sft")
    with pytest.raises(ValueError, match="unexpected field"):
        validate_row({**sft_row, "extra": 1}, "sft")
    bad = dict(sft_row)
    del bad["skill"]
    with pytest.raises(ValueError, match=r"missing field.*skill"):
        validate_row(bad, "sft")
    with pytest.raises(ValueError, match="metadata"):
        validate_row({**sft_row, "metadata": "{not json"}, "sft")


def test_string_answers_that_look_like_json_stay_text():
    answer = '{"name": "Ada", "born": 1815}'
    row = convert({"prompt": "[1, 2] as JSON?", "completion": answer}, "sft")
    assert row["messages"] == [
        {"role": "user", "content": "[1, 2] as JSON?"},
        {"role": "assistant", "content": answer},
    ]
    pref = convert({"prompt": "q", "chosen": "[x]", "rejected": "{}"}, "preference")
    assert pref["chosen"][-1]["content"] == "[x]" and pref["rejected"][-1]["content"] == "{}"
    # A CSV-style cell that holds a message list is still read as messages.
    cell = '[{"role": "assistant", "content": "hi"}]'
    assert convert({"prompt": "p", "completion": cell}, "sft")["messages"][1] == {
        "role": "assistant",
        "content": "hi",
    }
