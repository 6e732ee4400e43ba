"""Prompt records: the file between the two synthesis stages.

Like an `sft` row without the assistant turn: id, source, skill, messages (the prompt),
metadata; plus ground_truth and verifier when the prompt's answer check is known already
(precise_if prompts carry their IFEval constraints).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from manifests import Accounting, BadRowError, RejectsWriter, read_records

FIELDS = ("id", "source", "skill", "messages", "metadata")


def write_prompt_records(records: Iterable[dict], path: str | Path) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)  # a reader never sees a half-written prompts file
    return count


def prompt_record_problem(data: dict | None) -> str | None:
    """What is wrong with a prompt record, or None when it is usable."""
    if not isinstance(data, dict):
        return "not a JSON object"
    missing = [f for f in FIELDS if f not in data]
    if missing:
        return f"missing field(s) {missing}"
    messages = data["messages"]
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages
    ):
        return "field 'messages': expected a list of {role, content} objects"
    if not any(m.get("role") == "user" for m in messages):
        return "field 'messages': no user turn"
    return None


def read_prompt_records(
    path: str | Path,
    on_bad_row: str = "error",
    rejects: RejectsWriter | None = None,
    accounting: Accounting | None = None,
) -> Iterator[dict]:
    """Prompt records from a stage-1 file. A bad record raises BadRowError (file, row,
    problem), or with on_bad_row="skip" goes to `rejects` and is counted as rejected."""
    acc = accounting if accounting is not None else Accounting()
    for record in read_records(str(path)):
        acc.add_in()
        problem = record.error or prompt_record_problem(record.data)
        if problem is not None:
            if on_bad_row != "skip" or rejects is None:
                raise BadRowError(record.file, record.row, problem)
            rejects.reject(record.file, record.row, problem, record.data or record.raw)
            acc.reject()
            continue
        acc.add_out()
        yield record.data
