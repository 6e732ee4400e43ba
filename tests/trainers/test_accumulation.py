"""Gradient accumulation: one micro-batch of 8 equals four micro-batches of 2."""

import pytest
import torch
from accelerate import Accelerator

from trainers.core.config import SFTConfig
from trainers.core.loop import Run
from trainers.data.chat import ensure_chat_template, tokenize_conversation
from trainers.sft import sft_step_fn


def step_grads(model, tokenizer, docs, micro_batches, **config):
    run = Run(
        config=SFTConfig(**config),
        accelerator=Accelerator(cpu=True),
        model=model,
        tokenizer=tokenizer,
    )
    model.zero_grad()
    metrics = sft_step_fn(run, docs)(micro_batches)
    return metrics, {n: p.grad.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("packing", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_batch_8x1_equals_2x4(tokenizer, new_model, rows_factory, packing, reduction):
    ensure_chat_template(tokenizer)
    docs = [tokenize_conversation(tokenizer, r["messages"], 256) for r in rows_factory(8)]
    model = new_model()
    whole, g_whole = step_grads(
        model, tokenizer, docs, [list(range(8))], packing=packing, reduction=reduction
    )
    split, g_split = step_grads(
        model,
        tokenizer,
        docs,
        [[0, 1], [2, 3], [4, 5], [6, 7]],
        packing=packing,
        reduction=reduction,
    )
    assert whole["loss"] == pytest.approx(split["loss"], abs=1e-5)
    assert whole["label_tokens"] == split["label_tokens"]
    for name in g_whole:
        torch.testing.assert_close(g_split[name], g_whole[name], atol=1e-5, rtol=1e-5)


def test_per_micro_batch_mean_would_differ(tokenizer, new_model, rows_factory):
    """Control: averaging each micro-batch on its own (the classic bug) changes gradients."""
    ensure_chat_template(tokenizer)
    docs = [tokenize_conversation(tokenizer, r["messages"], 256) for r in rows_factory(8)]
    model = new_model()
    _, g_whole = step_grads(model, tokenizer, docs, [list(range(8))], reduction="mean")
    model.zero_grad()
    run = Run(
        config=SFTConfig(reduction="mean"),
        accelerator=Accelerator(cpu=True),
        model=model,
        tokenizer=tokenizer,
    )
    for mb in ([0, 1], [2, 3], [4, 5], [6, 7]):
        # each micro-batch normalized by its own count and the 4 averaged
        sft_step_fn(run, [docs[i] for i in mb])([[0, 1]])
    grads = {n: p.grad.detach() / 4 for n, p in model.named_parameters()}
    worst = max(float((grads[n] - g_whole[n]).abs().max()) for n in g_whole)
    assert worst > 1e-4


def test_sum_reduction_scales_mean_by_label_count(tokenizer, new_model, rows_factory):
    ensure_chat_template(tokenizer)
    docs = [tokenize_conversation(tokenizer, r["messages"], 256) for r in rows_factory(4)]
    model = new_model()
    m_mean, g_mean = step_grads(model, tokenizer, docs, [[0, 1], [2, 3]], reduction="mean")
    _, g_sum = step_grads(model, tokenizer, docs, [[0, 1], [2, 3]], reduction="sum")
    n = m_mean["label_tokens"]
    for name in g_mean:
        torch.testing.assert_close(g_sum[name], g_mean[name] * n, atol=1e-4, rtol=1e-5)
