"""Direct preference optimization (and its variants) on a `preference` mix."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from trainers.config import DPOConfig
from trainers.data import Pair, load_tokenized, mix_fingerprint, plan_steps
from trainers.dpo_loss import needs_reference, preference_loss
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
from trainers.reference import cache_key, cached_reference, compute_reference, pair_logps


def reference_table(run: Run, pairs: list[Pair]) -> tuple[dict[str, torch.Tensor] | None, str]:
    """Cached reference log-probs, computed from the model as loaded (before any update).

    Returns (None, "adapter_disabled") with LoRA, where the reference is the base model
    run with the adapter switched off, and (None, "none") for SimPO.
    """
    config = run.config
    if not needs_reference(config.loss):
        return None, "none"
    if config.lora:
        return None, "adapter_disabled"
    key = cache_key(
        config.model, mix_fingerprint(config.data), config.max_length,
        run.tokenizer.chat_template, config.bf16,
    )
    cache_dir = config.ref_cache_dir or str(Path(config.output) / "ref_cache")
    table, hit = cached_reference(
        cache_dir, key,
        lambda: compute_reference(
            run.accelerator, run.model, pairs, run.tokenizer.pad_token_id,
            micro_batch_size=config.micro_batch_size, packing=config.packing,
        ),
        is_main_process=run.accelerator.is_main_process,
        wait=run.accelerator.wait_for_everyone,
    )
    return table, "cache_hit" if hit else "computed"


def dpo_step_fn(run: Run, pairs: list[Pair], ref: dict[str, torch.Tensor] | None):
    """Forward/backward of one step: loss averaged over all pairs of the accumulated batch."""
    config, accelerator = run.config, run.accelerator
    pad_id = run.tokenizer.pad_token_id
    device = accelerator.device

    def reference_for(index: list[int], chunk: list[Pair]) -> tuple[torch.Tensor | None, ...]:
        if ref is not None:
            return ref["chosen"][index].to(device), ref["rejected"][index].to(device)
        if not needs_reference(config.loss):
            return None, None
        with torch.no_grad(), accelerator.unwrap_model(run.model).disable_adapter():
            out = pair_logps(run.model, chunk, pad_id, packing=config.packing, device=device)
        return out.chosen, out.rejected

    def step(micro_batches: list[list[int]]) -> dict[str, float]:
        global_pairs = reduce_sum(run, sum(len(mb) for mb in micro_batches))
        scale = accelerator.num_processes / global_pairs
        totals = dict.fromkeys(("loss", "chosen", "rejected", "accuracy"), 0.0)
        padding = fed = 0
        for index, mb in enumerate(micro_batches):
            chunk = [pairs[i] for i in mb]
            ref_chosen, ref_rejected = reference_for(mb, chunk)
            with no_sync_unless_last(run, index, len(micro_batches)):
                logps = pair_logps(run.model, chunk, pad_id, packing=config.packing, device=device)
                out = preference_loss(
                    config.loss, logps.chosen, logps.rejected, ref_chosen, ref_rejected,
                    logps.chosen_tokens, logps.rejected_tokens,
                    beta=config.beta, label_smoothing=config.label_smoothing,
                    simpo_gamma=config.simpo_gamma,
                )
                accelerator.backward(out.losses.sum() * scale)
            totals["loss"] += float(out.losses.detach().sum())
            totals["chosen"] += float(out.chosen_rewards.detach().sum())
            totals["rejected"] += float(out.rejected_rewards.detach().sum())
            correct = out.chosen_rewards > out.rejected_rewards
            totals["accuracy"] += float(correct.sum())
            padding, fed = padding + logps.padding, fed + logps.total
        means = {k: reduce_sum(run, v) / global_pairs for k, v in totals.items()}
        all_padding, all_fed = reduce_sum(run, padding), reduce_sum(run, fed)
        return {
            "loss": means["loss"],
            "rewards/chosen": means["chosen"],
            "rewards/rejected": means["rejected"],
            "rewards/margin": means["chosen"] - means["rejected"],
            "rewards/accuracy": means["accuracy"],
            "tokens": all_fed - all_padding,
            "padding_share": all_padding / max(all_fed, 1),
        }

    return step


def run_dpo(config: DPOConfig) -> dict:
    """Train; returns a summary (rows accounting, steps, reference source, final loss)."""
    run = start_run(config)
    pairs, accounting, tokenized = load_tokenized(
        config, run.tokenizer, "preference", is_main_process=run.accelerator.is_main_process
    )
    plan = plan_steps(
        len(pairs), batch_size=config.batch_size, micro_batch_size=config.micro_batch_size,
        num_processes=run.accelerator.num_processes, epochs=config.epochs, seed=config.seed,
        max_steps=config.max_steps,
    )
    prepare_optimization(run, len(plan.steps))
    # Before a resumed checkpoint is loaded, the model still holds the starting weights.
    ref, ref_source = reference_table(run, pairs)
    extra = {"data": mix_fingerprint(config.data), **config_record(config)}
    history = train(run, plan, dpo_step_fn(run, pairs, ref), extra_state=extra)
    final = save_final(run)
    summary = {
        "accounting": accounting.to_dict(),
        "tokenized": tokenized,
        "steps": len(plan.steps),
        "rows_dropped_per_epoch": plan.dropped_per_epoch,
        "reference": ref_source,
        "first_loss": history[0]["loss"] if history else None,
        "final_loss": history[-1]["loss"] if history else None,
        "output": str(final),
    }
    if run.accelerator.is_main_process:
        (Path(config.output) / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
