"""Validation of contract rows: errors name the field and what is wrong with it."""

from __future__ import annotations

import json
from typing import Any

from manifests.schemas import MESSAGE_FIELDS, ROLES, field_names


def validate_messages(value: Any, field: str) -> None:
    if not isinstance(value, list):
        got = type(value).__name__
        raise ValueError(f"field {field!r}: expected a list of messages, got {got}")
    if not value:
        raise ValueError(f"field {field!r}: no messages")
    for i, message in enumerate(value):
        where = f"field {field!r}[{i}]"
        if not isinstance(message, dict):
            raise ValueError(f"{where}: expected an object, got {type(message).__name__}")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or role not in ROLES:
            raise ValueError(f"{where}.role: expected one of {sorted(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"{where}.content: expected a string, got {type(content).__name__}")


def _not_json(name: str) -> None:
    # Python's json reads NaN and Infinity; no other JSON reader does, so they are refused.
    raise ValueError(f"{name} is not a JSON number")


def parse_metadata(text: str) -> dict:
    """A row's `metadata` string as a dict; ValueError naming the field when it is not a
    strict JSON object ("" stands for {})."""
    try:
        meta = json.loads(text or "{}", parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise ValueError(f"field 'metadata': not valid JSON ({exc.msg})") from None
    except ValueError as exc:
        raise ValueError(f"field 'metadata': not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError("field 'metadata': JSON nested too deeply") from None
    if not isinstance(meta, dict):
        raise ValueError(f"field 'metadata': expected a JSON object, got {type(meta).__name__}")
    return meta


def _require_string(row: dict, field: str, *, allow_empty: bool = False) -> None:
    value = row.get(field)
    if not isinstance(value, str):
        raise ValueError(f"field {field!r}: expected a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValueError(f"field {field!r}: empty")


def _roles(messages: list[dict]) -> list[str]:
    return [m["role"] for m in messages]


def validate_row(row: dict, kind: str) -> None:
    """Raise ValueError naming the field when `row` does not meet the `kind` contract."""
    expected = field_names(kind)
    missing = [f for f in expected if f not in row]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(map(repr, missing))}")
    extra = [f for f in row if f not in expected]
    if extra:
        raise ValueError(f"unexpected field(s) {', '.join(map(repr, extra))} for kind {kind!r}")
    for field in ("id", "source", "skill"):
        _require_string(row, field)
    _require_string(row, "metadata", allow_empty=True)
    parse_metadata(row["metadata"])
    for field in MESSAGE_FIELDS[kind]:
        validate_messages(row[field], field)
    if kind == "sft" and "assistant" not in _roles(row["messages"]):
        raise ValueError("field 'messages': no assistant turn to learn from")
    if kind == "preference":
        for field in ("chosen", "rejected"):
            if row[field][-1]["role"] != "assistant":
                raise ValueError(f"field {field!r}: the last message must be the assistant's")
    if kind == "prompt" and row["messages"][-1]["role"] != "user":
        raise ValueError("field 'messages': a prompt ends with a user turn (no answer)")
    if kind == "rlvr":
        if "user" not in _roles(row["messages"]):
            raise ValueError("field 'messages': no user turn (the prompt)")
        _require_string(row, "ground_truth")
        _require_string(row, "verifier")
