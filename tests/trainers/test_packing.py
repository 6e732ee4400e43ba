"""Packed (padding-free) and padded batches must give the same loss and gradients."""

import pytest
import torch

from trainers.data.chat import ensure_chat_template, tokenize_conversation
from trainers.data.collate import Layout, collate, pack_batch, pad_batch
from trainers.losses.sft import sft_loss_sum, token_logps


def docs_for(tokenizer, make_rows, n=6):
    ensure_chat_template(tokenizer)
    return [tokenize_conversation(tokenizer, r["messages"], 256) for r in make_rows(n, turns=2)]


def loss_and_grads(model, batch):
    model.zero_grad()
    loss, count = sft_loss_sum(model, batch)
    (loss / count).backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return float(loss.detach() / count), grads


def assert_same(a, b):
    assert abs(a[0] - b[0]) < 1e-5, (a[0], b[0])
    for name in a[1]:
        torch.testing.assert_close(a[1][name], b[1][name], atol=1e-5, rtol=1e-5, msg=name)


def test_packed_equals_padded_loss_and_gradients(tokenizer, new_model, rows_factory):
    model = new_model()
    docs = docs_for(tokenizer, rows_factory)
    padded = loss_and_grads(model, pad_batch(docs, tokenizer.pad_token_id))
    packed = loss_and_grads(model, pack_batch(docs))
    assert_same(padded, packed)
    # Rows of limited length (several packed rows plus padding) agree as well.
    assert_same(padded, loss_and_grads(model, pack_batch(docs, tokenizer.pad_token_id, 150)))
    assert_same(padded, loss_and_grads(model, pack_batch(docs, tokenizer.pad_token_id, 0)))


def test_negative_control_catches_cross_document_attention(tokenizer, new_model, rows_factory):
    """Positions that run on across documents let them attend to each other; the same
    comparison must then fail clearly."""
    model = new_model()
    docs = docs_for(tokenizer, rows_factory)
    padded = loss_and_grads(model, pad_batch(docs, tokenizer.pad_token_id))
    leaky = pack_batch(docs)
    leaky["position_ids"] = torch.arange(leaky["input_ids"].shape[1]).unsqueeze(0)
    leaked = loss_and_grads(model, leaky)
    assert abs(leaked[0] - padded[0]) > 1e-3
    worst = max(float((leaked[1][n] - padded[1][n]).abs().max()) for n in padded[1])
    assert worst > 1e-4


def test_cache_on_leaks_and_forward_turns_it_off(tokenizer, new_model, rows_factory):
    """The transformers trap: with use_cache=True packed documents attend to each other."""
    model = new_model()
    docs = docs_for(tokenizer, rows_factory)
    packed = pack_batch(docs)
    with torch.no_grad():
        padded_loss = float(sft_loss_sum(model, pad_batch(docs, tokenizer.pad_token_id))[0])
        ours = float(sft_loss_sum(model, packed)[0])
        cached = model(
            input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=True
        ).logits
        cached_loss = float(-token_logps(cached, packed["labels"])[0].sum())
    assert abs(ours - padded_loss) < 1e-3
    assert abs(cached_loss - padded_loss) > 1e-2


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_packed_equals_padded_for_each_cpu_backend(attn, tokenizer, new_model, rows_factory):
    """Each attention backend available on the CPU, through the run's own collation (the
    flash-attention-2 layout is checked in test_gpu_path_flash.py)."""
    model = new_model()
    model.set_attn_implementation(attn)
    assert model.config._attn_implementation == attn
    docs = docs_for(tokenizer, rows_factory)
    pad_id = tokenizer.pad_token_id
    padded = loss_and_grads(model, pad_batch(docs, pad_id))
    for layout in (Layout(), Layout(pack_length=0), Layout(pack_length=200)):
        assert_same(padded, loss_and_grads(model, collate(docs, pad_id=pad_id, layout=layout)))


def test_sdpa_row_over_the_mask_budget_is_split(tokenizer, rows_factory):
    """One packed row builds a dense rows x width x width mask under sdpa/eager; a row past the
    budget becomes rows as long as the longest document."""
    docs = docs_for(tokenizer, rows_factory)
    total = sum(len(d.input_ids) for d in docs)
    one = collate(docs, pad_id=0, layout=Layout(mask_budget=total**2))
    assert one["input_ids"].shape == (1, total)
    split = collate(docs, pad_id=0, layout=Layout(mask_budget=total**2 - 1))
    assert split["input_ids"].shape[0] > 1
    assert split["input_ids"].shape[1] == max(len(d.input_ids) for d in docs)
    # flash attention has no dense mask: one row whatever the budget.
    flash = collate(docs, pad_id=0, layout=Layout(one_row=True, mask_budget=1))
    assert flash["input_ids"].shape == (1, total)
