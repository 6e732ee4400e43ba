"""The text of a row that matching and dedup look at."""

from __future__ import annotations

from manifests.schemas import ROLES


def row_messages(row: dict) -> list[dict]:
    """The conversation of a row: `messages`, or `chosen` for preference rows."""
    messages = row.get("messages")
    if messages is None:
        messages = row.get("chosen") or []
    return messages


TEXT_FIELDS = ("user", "all")  # which turns are a row's text: the user turns, or every turn


def row_text(row: dict, fields: str = "user") -> str:
    """User turns joined by newlines; `fields="all"` takes every turn but system prompts."""
    if fields == "user":
        roles = {"user"}
    elif fields == "all":
        roles = ROLES - {"system"}
    else:
        raise ValueError(f"fields must be one of {TEXT_FIELDS}, got {fields!r}")
    return "\n".join(m["content"] for m in row_messages(row) if m["role"] in roles)
