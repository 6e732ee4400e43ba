"""From parsed options to a finished run, and the run's summary as printable lines."""

from __future__ import annotations

from typing import Any

from trainers.config import DPOConfig, SFTConfig, load_config


def train_from_options(kind: str, config_file: str | None, options: dict[str, Any]) -> dict:
    """Build the recipe's config (YAML file, then flags) and run it."""
    if kind == "sft":
        from trainers.sft import run_sft

        return run_sft(load_config(SFTConfig, config_file, options))
    if kind == "dpo":
        from trainers.dpo import run_dpo

        return run_dpo(load_config(DPOConfig, config_file, options))
    if kind == "rlvr":
        from trainers.rlvr_launch import train_rlvr_from_options

        return train_rlvr_from_options(config_file, options)
    raise ValueError(f"unknown training recipe {kind!r}")


def summary_lines(summary: dict) -> list[str]:
    acc = summary["accounting"]
    removed = ", ".join(f"{k}={v}" for k, v in sorted(acc["removed"].items())) or "none"
    lines = [
        f"rows in {acc['rows_in']}, out {acc['rows_out']}, removed "
        f"{sum(acc['removed'].values())} ({removed}), rejected {acc['rejected']}",
        f"steps {summary['steps']}; rows left out of each epoch's last partial batch: "
        f"{summary['rows_dropped_per_epoch']}",
    ]
    if "tokenized" in summary:
        lines.append(f"tokenized mix: {summary['tokenized']}")
    if "reference" in summary:
        lines.append(f"reference log-probs: {summary['reference']}")
    if summary.get("final_loss") is not None:
        lines.append(f"final loss {summary['final_loss']:.4f}")
    lines.append(f"model: {summary['output']}")
    return lines
