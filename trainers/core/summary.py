"""A finished run's summary as printable lines (shared by every recipe)."""

from __future__ import annotations


def summary_lines(summary: dict) -> list[str]:
    acc = summary["accounting"]
    removed = ", ".join(f"{k}={v}" for k, v in sorted(acc["removed"].items())) or "none"
    lines = [
        f"rows in {acc['rows_in']}, out {acc['rows_out']}, removed "
        f"{sum(acc['removed'].values())} ({removed}), rejected {acc['rejected']}",
        f"steps {summary['steps']}; rows left out of each epoch's last partial batch: "
        f"{summary['rows_dropped_per_epoch']}",
    ]
    if summary.get("truncated_to_pack_length"):
        lines.append(
            f"cut to --pack-length: {summary['truncated_to_pack_length']} rows (still trained on)"
        )
    for key, label in (
        ("tokenized", "tokenized mix"),
        ("reference", "reference log-probs"),
        ("packing", "packing"),
    ):
        if key in summary:
            lines.append(f"{label}: {summary[key]}")
    if summary.get("final_loss") is not None:
        lines.append(f"final loss {summary['final_loss']:.4f}")
    lines.append(f"model: {summary['output']}")
    return lines
