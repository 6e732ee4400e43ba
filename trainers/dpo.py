"""Direct preference optimization (and its variants) on a `preference` mix."""

from __future__ import annotations

from pathlib import Path

import torch

from trainers.core.config import DPOConfig
from trainers.core.loop import (
    Run,
    no_sync_unless_last,
    reduce_sum,
    train,
)
from trainers.core.reference import cache_key, cached_reference, compute_reference, pair_logps
from trainers.core.tokenized_run import finish_tokenized_run, start_tokenized_run
from trainers.data.collate import Layout
from trainers.data.mix import Pair, document_cap, mix_fingerprint
from trainers.losses.preference import needs_reference, preference_loss


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
        # Documents are cut to pack_length when packing, so it names the tokenization too.
        config.model,
        mix_fingerprint(config.data),
        document_cap(config),
        run.tokenizer.chat_template,
        run.bf16,
    )
    cache_dir = config.ref_cache_dir or str(Path(config.output) / "ref_cache")
    table, hit = cached_reference(
        cache_dir,
        key,
        lambda: compute_reference(
            run.accelerator,
            run.model,
            pairs,
            run.tokenizer.pad_token_id,
            micro_batch_size=config.micro_batch_size,
            layout=Layout.of(config),
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
    layout = Layout.of(config)

    def reference_for(index: list[int], chunk: list[Pair]) -> tuple[torch.Tensor | None, ...]:
        if ref is not None:
            return ref["chosen"][index].to(device), ref["rejected"][index].to(device)
        if not needs_reference(config.loss):
            return None, None
        with torch.no_grad(), accelerator.unwrap_model(run.model).disable_adapter():
            out = pair_logps(run.model, chunk, pad_id, device=device, layout=layout)
        return out.chosen, out.rejected

    def step(micro_batches: list[list[int]]) -> dict[str, float]:
        global_pairs = reduce_sum(run, sum(len(mb) for mb in micro_batches))
        scale = accelerator.num_processes / global_pairs
        totals = dict.fromkeys(
            ("loss", "chosen", "rejected", "accuracy", "logps_chosen", "logps_rejected"), 0.0
        )
        padding = fed = 0
        for index, mb in enumerate(micro_batches):
            chunk = [pairs[i] for i in mb]
            ref_chosen, ref_rejected = reference_for(mb, chunk)
            with no_sync_unless_last(run, index, len(micro_batches)):
                logps = pair_logps(run.model, chunk, pad_id, device=device, layout=layout)
                out = preference_loss(
                    config.loss,
                    logps.chosen,
                    logps.rejected,
                    ref_chosen,
                    ref_rejected,
                    logps.chosen_tokens,
                    logps.rejected_tokens,
                    beta=config.beta,
                    label_smoothing=config.label_smoothing,
                    simpo_gamma=config.simpo_gamma,
                )
                accelerator.backward(out.losses.sum() * scale)
            totals["loss"] += float(out.losses.detach().sum())
            totals["chosen"] += float(out.chosen_rewards.detach().sum())
            totals["rejected"] += float(out.rejected_rewards.detach().sum())
            correct = out.chosen_rewards > out.rejected_rewards
            totals["accuracy"] += float(correct.sum())
            totals["logps_chosen"] += float(logps.chosen.detach().sum())
            totals["logps_rejected"] += float(logps.rejected.detach().sum())
            padding, fed = padding + logps.padding, fed + logps.total
        means = {k: reduce_sum(run, v) / global_pairs for k, v in totals.items()}
        all_padding, all_fed = reduce_sum(run, padding), reduce_sum(run, fed)
        return {
            "loss": means["loss"],
            "rewards/chosen": means["chosen"],
            "rewards/rejected": means["rejected"],
            "rewards/margin": means["chosen"] - means["rejected"],
            "rewards/accuracy": means["accuracy"],
            "logps/chosen": means["logps_chosen"],  # summed per sequence, as TRL logs them
            "logps/rejected": means["logps_rejected"],
            "tokens": all_fed - all_padding,
            "padding_share": all_padding / max(all_fed, 1),
        }

    return step


def run_dpo(config: DPOConfig) -> dict:
    """Train; returns a summary (rows accounting, steps, reference source, final loss)."""
    t = start_tokenized_run(config, "preference")
    # Before a resumed checkpoint is loaded, the model still holds the starting weights.
    ref, ref_source = reference_table(t.run, t.items)
    history = train(t.run, t.plan, dpo_step_fn(t.run, t.items, ref), extra_state=t.extra_state)
    return finish_tokenized_run(
        config, t, history, reference=ref_source, first_loss=history[0]["loss"] if history else None
    )
