"""What SFT and DPO share around their step functions: the run set up on a tokenized mix,
and the summary written at the end."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manifests import Accounting
from trainers.core.config import TrainConfig
from trainers.core.loop import Run, config_record, prepare_optimization, save_final, start_run
from trainers.data.mix import StepPlan, load_tokenized, mix_fingerprint, plan_steps


@dataclass
class TokenizedRun:
    run: Run
    items: list  # documents (sft) or pairs (preference)
    accounting: Accounting
    tokenized: str  # "computed", "cache_hit" or "off"
    plan: StepPlan
    extra_state: dict  # what a checkpoint records to refuse resuming on other data
    truncated_to_pack_length: int = 0  # items cut to --pack-length


def start_tokenized_run(config: TrainConfig, kind: str) -> TokenizedRun:
    """Accelerator, model and tokenizer; the mix tokenized; the step plan; the optimizer."""
    run = start_run(config)
    loaded = load_tokenized(
        config, run.tokenizer, kind, is_main_process=run.accelerator.is_main_process
    )
    items = loaded.items
    plan = plan_steps(
        len(items),
        batch_size=config.batch_size,
        micro_batch_size=config.micro_batch_size,
        num_processes=run.accelerator.num_processes,
        epochs=config.epochs,
        seed=config.seed,
        max_steps=config.max_steps,
    )
    prepare_optimization(run, len(plan.steps))
    extra = {"data": mix_fingerprint(config.data), **config_record(config)}
    return TokenizedRun(
        run,
        items,
        loaded.accounting,
        loaded.tokenized,
        plan,
        extra,
        loaded.truncated_to_pack_length,
    )


def finish_tokenized_run(
    config: TrainConfig, t: TokenizedRun, history: list[dict], **fields: Any
) -> dict:
    """Save the final model; the run's summary (also written to OUTPUT/summary.json)."""
    final = save_final(t.run)
    summary = {
        "accounting": t.accounting.to_dict(),
        "tokenized": t.tokenized,
        "steps": len(t.plan.steps),
        "rows_dropped_per_epoch": t.plan.dropped_per_epoch,
        "truncated_to_pack_length": t.truncated_to_pack_length,
        **fields,
        "final_loss": history[-1]["loss"] if history else None,
        "output": str(final),
    }
    if t.run.accelerator.is_main_process:
        (Path(config.output) / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
