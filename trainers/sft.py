"""Supervised fine-tuning on an `sft` mix."""

from __future__ import annotations

import json
from pathlib import Path

from trainers.chat import Tokenized
from trainers.collate import collate, padding_tokens
from trainers.config import SFTConfig
from trainers.data import load_tokenized, mix_fingerprint, plan_steps
from trainers.loop import (
    Run,
    config_record,
    no_sync_unless_last,
    prepare_optimization,
    reduce_sum,
    save_final,
    start_run,
    train,
)
from trainers.loss import label_count, sft_loss_sum


def sft_step_fn(run: Run, docs: list[Tokenized]):
    """One optimizer step's forward/backward over this process's micro-batches.

    The loss is normalized by the label tokens of the whole accumulated batch across all
    processes ("mean"), or not at all ("sum"); it is multiplied by the process count
    because DDP/FSDP average gradients over processes.
    """
    config, accelerator = run.config, run.accelerator
    pad_id = run.tokenizer.pad_token_id

    def step(micro_batches: list[list[int]]) -> dict[str, float]:
        batches = [
            collate(
                [docs[i] for i in mb], packing=config.packing, pad_id=pad_id,
                pack_length=config.pack_length,
            )
            for mb in micro_batches
        ]
        batches = [{k: v.to(accelerator.device) for k, v in b.items()} for b in batches]
        global_labels = reduce_sum(run, sum(label_count(b) for b in batches))
        divisor = max(global_labels, 1) if config.reduction == "mean" else 1
        scale = accelerator.num_processes / divisor
        loss_sum = tokens = padding = 0.0
        for index, batch in enumerate(batches):
            with no_sync_unless_last(run, index, len(batches)):
                loss, _ = sft_loss_sum(run.model, batch)
                accelerator.backward(loss * scale)
            loss_sum += float(loss.detach())
            padding += padding_tokens(batch)
            tokens += batch["input_ids"].numel()
        total_tokens = reduce_sum(run, tokens)
        total_padding = reduce_sum(run, padding)
        return {
            "loss": reduce_sum(run, loss_sum) / max(global_labels, 1),
            "label_tokens": global_labels,
            "tokens": total_tokens - total_padding,
            "padding_share": total_padding / max(total_tokens, 1),
        }

    return step


def run_sft(config: SFTConfig) -> dict:
    """Train; returns a summary (rows accounting, steps, final loss, output paths)."""
    run = start_run(config)
    docs, accounting, tokenized = load_tokenized(
        config, run.tokenizer, "sft", is_main_process=run.accelerator.is_main_process
    )
    plan = plan_steps(
        len(docs), batch_size=config.batch_size, micro_batch_size=config.micro_batch_size,
        num_processes=run.accelerator.num_processes, epochs=config.epochs, seed=config.seed,
        max_steps=config.max_steps,
    )
    prepare_optimization(run, len(plan.steps))
    extra = {"data": mix_fingerprint(config.data), **config_record(config)}
    history = train(run, plan, sft_step_fn(run, docs), extra_state=extra)
    final = save_final(run)
    summary = {
        "accounting": accounting.to_dict(),
        "tokenized": tokenized,
        "steps": len(plan.steps),
        "rows_dropped_per_epoch": plan.dropped_per_epoch,
        "final_loss": history[-1]["loss"] if history else None,
        "output": str(final),
    }
    if run.accelerator.is_main_process:
        (Path(config.output) / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
