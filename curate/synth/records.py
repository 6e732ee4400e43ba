"""Prompt records: the file between the two synthesis stages.

Like an `sft` row without the assistant turn: id, source, skill, messages (the prompt),
metadata; plus ground_truth and verifier when the prompt's answer check is known already
(precise_if prompts carry their IFEval constraints).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from manifests import Accounting, RejectsWriter, RowGate, read_records
from manifests.atomic import atomic_open
from manifests.validate import parse_metadata

FIELDS = ("id", "source", "skill", "messages", "metadata")


def write_prompt_records(records: Iterable[dict], path: str | Path) -> int:
    count = 0
    with atomic_open(path) as fh:  # a reader never sees a half-written prompts file
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def prompt_record_problem(data: dict | None) -> str | None:
    """What is wrong with a prompt record, or None when it is usable: checked for every
    record before the first request, so a bad one never costs a half-finished run."""
    if not isinstance(data, dict):
        return "not a JSON object"
    missing = [f for f in FIELDS if f not in data]
    if missing:
        return f"missing field(s) {missing}"
    for name in ("id", "source", "skill"):
        if not isinstance(data[name], str) or not data[name].strip():
            return f"field {name!r}: expected a non-empty string"
    messages = data["messages"]
    if not isinstance(messages, list) or not messages:
        return "field 'messages': expected a non-empty list of {role, content} objects"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return f"field 'messages'[{i}]: expected a {{role, content}} object"
        if message.get("role") not in ROLES:
            return f"field 'messages'[{i}]: role {message.get('role')!r} is not one of {ROLES}"
    if messages[-1]["role"] != "user":
        return "field 'messages': the last turn must be the user's (a prompt has no answer)"
    problem = _metadata_problem(data["metadata"])
    if problem is None and data.get("verifier") is not None:
        problem = _check_problem(data.get("verifier"), data.get("ground_truth"))
    return problem


ROLES = ("system", "user", "assistant", "tool")


def _metadata_problem(metadata: object) -> str | None:
    if metadata in (None, ""):
        return None
    if not isinstance(metadata, str):
        return "field 'metadata': expected a JSON object as a string"
    try:
        meta = parse_metadata(metadata)  # the contract's one reading: strict JSON object
    except ValueError as exc:
        return str(exc)
    if meta.get("verifier") is not None:
        return _check_problem(meta.get("verifier"), meta.get("ground_truth"))
    return None


def _check_problem(verifier: object, truth: object) -> str | None:
    """A known verifier, and a ground truth it can score when one is given."""
    from curate.verifiers import canonical_name, truth_problem

    if not isinstance(verifier, str) or canonical_name(verifier) is None:
        return f"field 'verifier': unknown verifier {verifier!r}"
    if truth in (None, ""):
        return None
    if not isinstance(truth, str):
        return "field 'ground_truth': expected a string"
    return truth_problem(verifier, truth)


def read_prompt_records(
    path: str | Path,
    on_bad_row: str = "error",
    rejects: RejectsWriter | None = None,
    accounting: Accounting | None = None,
) -> Iterator[dict]:
    """Prompt records from a stage-1 file; a bad record goes through a `RowGate` (named
    error, or rejected and counted with on_bad_row="skip")."""
    gate = RowGate(on_bad_row, rejects, accounting)
    for record in read_records(str(path)):
        problem = record.error or prompt_record_problem(record.data)
        if gate.admit(record.file, record.row, problem, record.data or record.raw):
            yield record.data
    gate.finish(str(path))
