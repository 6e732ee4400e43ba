"""Arrow schemas of the four row contracts (field names follow the public Tülu 3 datasets).

`prompt` rows are what a step that asks for an answer reads: the turns up to and
including the last user turn, with no answer and no ground truth.
"""

from __future__ import annotations

import pyarrow as pa

# The kinds a training set holds; `prompt` rows are an intermediate of synthesis.
TRAINING_KINDS: tuple[str, ...] = ("sft", "preference", "rlvr")
KINDS: tuple[str, ...] = (*TRAINING_KINDS, "prompt")

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES_TYPE = pa.list_(MESSAGE_TYPE)

_COMMON_HEAD = [("id", pa.string()), ("source", pa.string()), ("skill", pa.string())]
_METADATA = ("metadata", pa.string())

_SCHEMAS: dict[str, pa.Schema] = {
    "sft": pa.schema([*_COMMON_HEAD, ("messages", MESSAGES_TYPE), _METADATA]),
    "preference": pa.schema(
        [*_COMMON_HEAD, ("chosen", MESSAGES_TYPE), ("rejected", MESSAGES_TYPE), _METADATA]
    ),
    "rlvr": pa.schema(
        [
            *_COMMON_HEAD,
            ("messages", MESSAGES_TYPE),
            ("ground_truth", pa.string()),
            ("verifier", pa.string()),
            _METADATA,
        ]
    ),
    "prompt": pa.schema([*_COMMON_HEAD, ("messages", MESSAGES_TYPE), _METADATA]),
}

# Fields of each kind that hold a list of chat messages.
MESSAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "sft": ("messages",),
    "preference": ("chosen", "rejected"),
    "rlvr": ("messages",),
    "prompt": ("messages",),
}

ROLES: frozenset[str] = frozenset({"system", "user", "assistant", "tool"})


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown row kind {kind!r}: expected one of {', '.join(KINDS)}")
    return kind


def schema_for(kind: str) -> pa.Schema:
    """The Arrow schema of a row contract, fields in contract order."""
    return _SCHEMAS[check_kind(kind)]


def field_names(kind: str) -> list[str]:
    return schema_for(kind).names
