"""rlvr rows in the layouts peers read unchanged.

- `trl`: what TRL's GRPOTrainer reads: a conversational `prompt` column (the message list);
  the other columns (`ground_truth`, `verifier`, ...) reach its reward functions as keyword
  arguments.
- `open-instruct`: open-instruct's RLVR layout, `messages`, `ground_truth`, `dataset` (its
  verifier name; a func_name IFEval truth is `ifeval_old` there, as open-instruct names it).
`id` and `source` are kept in both, for lineage.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

EXPORT_LAYOUTS = ("trl", "open-instruct")


def _open_instruct_dataset(row: dict) -> str:
    if row["verifier"] == "ifeval":
        try:
            truth = json.loads(row["ground_truth"])
        except json.JSONDecodeError:
            truth = None
        if isinstance(truth, dict) and "func_name" in truth:
            return "ifeval_old"
    return row["verifier"]


def export_row(row: dict, layout: str) -> dict:
    """One rlvr contract row in a peer's layout."""
    if layout == "trl":
        return {
            "id": row["id"],
            "source": row["source"],
            "prompt": row["messages"],
            "ground_truth": row["ground_truth"],
            "verifier": row["verifier"],
        }
    if layout == "open-instruct":
        return {
            "id": row["id"],
            "source": row["source"],
            "messages": row["messages"],
            "ground_truth": row["ground_truth"],
            "dataset": _open_instruct_dataset(row),
        }
    raise ValueError(f"unknown export layout {layout!r}: expected one of {EXPORT_LAYOUTS}")


def export_rows(rows: Iterable[dict], layout: str) -> Iterator[dict]:
    for row in rows:
        yield export_row(row, layout)
