"""Adapters: the common shapes of post-training data turned into the row contracts.

Recognized shapes, by the fields a record has:
- `messages` (Tülu 3, OpenAI chat), or ShareGPT `conversations` with `from`/`value`;
- Alpaca `instruction` (+ `input`) / `output`;
- `prompt` / `completion` (strings or message lists);
- preference: `chosen` / `rejected` as message lists, or strings with a `prompt` (TRL);
- rlvr: `messages` or `prompt`, with `ground_truth` and `verifier` (or Tülu's `dataset`);
- prompt: any of the chat shapes above without an answer (the last turn is the user's), an
  Alpaca `instruction` without `output`, or a lone `prompt`. Read as kind `prompt`, a row
  with an answer gives its turns up to the last user turn, and an rlvr row's check moves
  into `metadata` (`ground_truth`, `verifier`): the prompt carries it as lineage.
A field mapping (`{"messages": "dialog"}`) renames input fields first, for anything else.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import PurePath
from typing import Any

from manifests.ids import canonical_json, stable_id
from manifests.validate import validate_row

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
}
DEFAULT_SKILL = "general"


def detect_kind(record: dict) -> str:
    """The contract a record (raw or already a contract row) reads as, from its fields."""
    if "chosen" in record and "rejected" in record:
        return "preference"
    if "ground_truth" in record:
        return "rlvr"
    return "prompt" if _is_prompt_only(record) else "sft"


def _last_role(value: Any) -> str | None:
    value = _maybe_json(value)
    if not isinstance(value, list) or not value or not isinstance(value[-1], dict):
        return None
    last = value[-1]
    role = last.get("role", last.get("from"))
    return SHAREGPT_ROLES.get(str(role).lower(), str(role)) if role is not None else None


def _is_prompt_only(record: dict) -> bool:
    """A chat row that ends in a user turn, an instruction without output, a lone prompt."""
    for field in ("messages", "conversations"):
        if record.get(field) is not None:
            return _last_role(record[field]) == "user"
    if record.get("instruction") is not None:
        return record.get("output") is None
    if record.get("prompt") is not None:
        return record.get("completion") is None and record.get("response") is None
    return False


def apply_mapping(record: dict, mapping: dict[str, str] | None) -> dict:
    if not mapping:
        return record
    out = dict(record)
    for target, field in mapping.items():
        if field not in record:
            raise ValueError(f"mapped field {field!r} (for {target!r}) is missing")
        out[target] = record[field]
    return out


def _maybe_json(value: Any) -> Any:
    """CSV cells and some hub exports hold nested values as JSON strings."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def to_messages(value: Any, field: str) -> list[dict]:
    """A list of chat messages from `role`/`content` or ShareGPT `from`/`value` items."""
    value = _maybe_json(value)
    if isinstance(value, str):
        raise ValueError(f"field {field!r}: expected a list of messages, got a string")
    if not isinstance(value, list):
        got = type(value).__name__
        raise ValueError(f"field {field!r}: expected a list of messages, got {got}")
    messages = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"field {field!r}[{i}]: expected an object, got {type(item).__name__}")
        if "role" in item:
            role, content = item["role"], item.get("content")
        elif "from" in item:
            role = SHAREGPT_ROLES.get(str(item["from"]).lower(), item["from"])
            content = item.get("value")
        else:
            raise ValueError(f"field {field!r}[{i}]: no 'role' (or ShareGPT 'from')")
        messages.append({"role": role, "content": content})
    return messages


def _looks_like_messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and ("role" in m or "from" in m) for m in value)
    )


def _turns(value: Any, role: str, field: str) -> list[dict]:
    """A string becomes one turn of `role`; a list is read as messages.

    A string is read as JSON only when it holds a message list (CSV cells); an answer
    that merely starts with `{` or `[` (a JSON reply, a code snippet) stays text.
    """
    if isinstance(value, str):
        parsed = _maybe_json(value)
        if not _looks_like_messages(parsed):
            return [{"role": role, "content": value}]
        value = parsed
    return to_messages(value, field)


def _require(record: dict, field: str) -> Any:
    value = record.get(field)
    if value is None:
        raise ValueError(f"missing field {field!r}")
    return value


def sft_messages(record: dict) -> list[dict]:
    if "messages" in record:
        return to_messages(_require(record, "messages"), "messages")
    if "conversations" in record:
        return to_messages(_require(record, "conversations"), "conversations")
    if "instruction" in record:
        prompt = str(_require(record, "instruction"))
        extra = record.get("input")
        if extra:
            prompt = f"{prompt}\n\n{extra}"
        turns = [{"role": "user", "content": prompt}]
        return [*turns, {"role": "assistant", "content": _require(record, "output")}]
    if "prompt" in record:
        prompt = _turns(_require(record, "prompt"), "user", "prompt")
        completion = record.get("completion", record.get("response"))
        if completion is None:
            raise ValueError("missing field 'completion'")
        return prompt + _turns(completion, "assistant", "completion")
    raise ValueError(
        "no recognized shape: expected 'messages', 'conversations', 'instruction'/'output' or "
        "'prompt'/'completion' (use a field mapping for other names)"
    )


def preference_pair(record: dict) -> tuple[list[dict], list[dict]]:
    prompt = record.get("prompt")
    prompt_part = _turns(prompt, "user", "prompt") if prompt is not None else []
    pair = []
    for field in ("chosen", "rejected"):
        turns = _turns(_require(record, field), "assistant", field)
        if prompt_part and turns[0]["role"] == "assistant":
            turns = prompt_part + turns
        elif not prompt_part and len(turns) == 1:
            raise ValueError(f"field {field!r} is a lone answer and there is no 'prompt'")
        pair.append(turns)
    return pair[0], pair[1]


def rlvr_prompt(record: dict) -> list[dict]:
    if "messages" in record:
        return to_messages(_require(record, "messages"), "messages")
    if "prompt" in record:
        return _turns(_require(record, "prompt"), "user", "prompt")
    raise ValueError("no prompt: expected 'messages' or 'prompt'")


def prompt_turns(messages: list[dict], field: str = "messages") -> list[dict]:
    """The turns up to and including the last user turn: what the next answer answers."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    if last_user < 0:
        raise ValueError(f"field {field!r}: no user turn (the prompt)")
    return [dict(m) for m in messages[: last_user + 1]]


def prompt_messages(record: dict) -> list[dict]:
    """The prompt of any recognized shape (an answer, if there is one, is left out)."""
    for field in ("messages", "conversations"):
        if field in record:
            return prompt_turns(to_messages(_require(record, field), field), field)
    if "instruction" in record:
        prompt = str(_require(record, "instruction"))
        extra = record.get("input")
        return [{"role": "user", "content": f"{prompt}\n\n{extra}" if extra else prompt}]
    if "prompt" in record:
        return prompt_turns(_turns(_require(record, "prompt"), "user", "prompt"), "prompt")
    if "chosen" in record:
        return prompt_turns(_turns(_require(record, "chosen"), "assistant", "chosen"), "chosen")
    raise ValueError(
        "no prompt: expected 'messages', 'conversations', 'instruction' or 'prompt' "
        "(use a field mapping for other names)"
    )


def prompt_row(row: dict) -> dict:
    """A contract row of any kind as a `prompt` row, keeping its id and lineage.

    An rlvr row's check is kept in metadata; the number of turns left out is recorded.
    """
    messages = row.get("messages") if "messages" in row else row["chosen"]
    turns = prompt_turns(messages, "messages" if "messages" in row else "chosen")
    meta = json.loads(row.get("metadata") or "{}")
    if "ground_truth" in row:
        meta.update(ground_truth=row["ground_truth"], verifier=row["verifier"])
    if len(turns) < len(messages):
        meta["prompt_of"] = detect_kind(row)
        meta["turns_left_out"] = len(messages) - len(turns)
    out = {
        "id": row["id"],
        "source": row["source"],
        "skill": row["skill"],
        "messages": turns,
        "metadata": canonical_json(meta),
    }
    validate_row(out, "prompt")
    return out


def _ground_truth(record: dict) -> str:
    value = _require(record, "ground_truth")
    return value if isinstance(value, str) else canonical_json(value)


def _verifier(record: dict) -> str:
    value = record.get("verifier", record.get("dataset"))
    if not isinstance(value, str) or not value:
        raise ValueError("missing field 'verifier' (or Tülu's 'dataset')")
    return value.lower()


def lineage_file(file: str) -> str:
    """The `file` a row's lineage records: the path as it was given (on the command line,
    or relative to the recipe's folder in a pipeline run), normalized: POSIX separators, no
    `.` and no inner `..`. Nothing is resolved against the disk or the working folder, so
    the same command in another folder writes the same rows. Hub specs stay as written."""
    if file.startswith("hf://"):
        return file
    return posixpath.normpath(PurePath(file).as_posix())


def _metadata(record: dict, file: str, row: int) -> str:
    given = record.get("metadata")
    value = _maybe_json(given)
    if isinstance(given, str) and isinstance(value, dict) and "file" in value and "row" in value:
        return given  # lineage already set where the row entered skillmix: keep it as written
    if value is None or value == "":
        meta: dict = {}
    elif isinstance(value, dict):
        meta = dict(value)
    else:
        meta = {"original_metadata": value}
    # Lineage is set once, where a row first enters skillmix; later reads keep it.
    meta.setdefault("file", lineage_file(file))
    meta.setdefault("row", row)
    return canonical_json(meta)


def to_contract(
    record: dict,
    kind: str,
    *,
    file: str,
    row: int,
    source: str | None = None,
    skill: str | None = None,
    mapping: dict[str, str] | None = None,
) -> dict:
    """One contract row from one input record; ValueError names what is wrong."""
    # Columnar inputs give absent values as nulls; treat them as missing fields.
    record = {k: v for k, v in apply_mapping(record, mapping).items() if v is not None}
    if kind == "sft":
        content: dict[str, Any] = {"messages": sft_messages(record)}
    elif kind == "preference":
        chosen, rejected = preference_pair(record)
        content = {"chosen": chosen, "rejected": rejected}
    elif kind == "rlvr":
        content = {
            "messages": rlvr_prompt(record),
            "ground_truth": _ground_truth(record),
            "verifier": _verifier(record),
        }
    elif kind == "prompt":
        content = {"messages": prompt_messages(record)}
    else:
        raise ValueError(f"unknown kind {kind!r}")
    src = source or record.get("source") or _stem(file)
    row_id = record.get("id")
    row_id = stable_id(str(src), content) if row_id in (None, "") else str(row_id)
    metadata = _metadata(record, file, row)
    if kind == "prompt":
        metadata = _prompt_lineage(record, content["messages"], metadata)
    out = {
        "id": row_id,
        "source": str(src),
        "skill": str(skill or record.get("skill") or DEFAULT_SKILL),
        **content,
        "metadata": metadata,
    }
    validate_row(out, kind)
    return out


def _prompt_lineage(record: dict, turns: list[dict], metadata: str) -> str:
    """A prompt read from a richer row says what it kept: the check, the turns left out."""
    extra: dict[str, Any] = {}
    if "ground_truth" in record:
        extra.update(ground_truth=_ground_truth(record), verifier=_verifier(record))
    for field in ("messages", "conversations"):
        if field in record:
            left_out = len(to_messages(record[field], field)) - len(turns)
            if left_out:
                extra["turns_left_out"] = left_out
            break
    else:
        if any(record.get(f) is not None for f in ("output", "completion", "response", "chosen")):
            extra["turns_left_out"] = 1
    if not extra:
        return metadata
    return canonical_json({**json.loads(metadata), **extra})


def _stem(file: str) -> str:
    if file.startswith("hf://"):
        file = file[len("hf://") :].split("@", 1)[0].split(":", 1)[0]
    name = file.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (
        ".gz",
        ".zst",
        ".zstd",
        ".jsonl",
        ".ndjson",
        ".json",
        ".parquet",
        ".arrow",
        ".ipc",
        ".feather",
        ".csv",
    ):
        name = name.removesuffix(suffix)
    return name or "unknown"
