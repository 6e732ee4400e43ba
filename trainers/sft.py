"""Supervised fine-tuning on an `sft` mix."""

from __future__ import annotations

from trainers.core.config import SFTConfig
from trainers.core.loop import (
    Run,
    no_sync_unless_last,
    reduce_sum,
    train,
)
from trainers.core.tokenized_run import finish_tokenized_run, start_tokenized_run
from trainers.data.chat import Tokenized
from trainers.data.collate import Layout, collate, padding_tokens
from trainers.losses.sft import label_count, sft_loss_sum


def sft_step_fn(run: Run, docs: list[Tokenized]):
    """One optimizer step's forward/backward over this process's micro-batches.

    The loss is normalized by the label tokens of the whole accumulated batch across all
    processes ("mean"), or not at all ("sum"); it is multiplied by the process count
    because DDP/FSDP average gradients over processes.
    """
    config, accelerator = run.config, run.accelerator
    pad_id = run.tokenizer.pad_token_id
    layout = Layout.of(config)

    def step(micro_batches: list[list[int]]) -> dict[str, float]:
        batches = [
            collate([docs[i] for i in mb], pad_id=pad_id, layout=layout) for mb in micro_batches
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
    t = start_tokenized_run(config, "sft")
    history = train(t.run, t.plan, sft_step_fn(t.run, t.items), extra_state=t.extra_state)
    return finish_tokenized_run(config, t, history)
