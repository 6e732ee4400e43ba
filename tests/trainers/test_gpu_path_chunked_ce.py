"""Label log-probs from hidden states in chunks equal the full-logits path (values, grads)."""

import pytest
import torch

from trainers.core.label_logps import chunked_logps, label_logps, supports_chunking
from trainers.data.collate import pack_batch, pad_batch
from trainers.losses.sft import forward_logits, token_logps

from .test_packing import docs_for


def grads_of(model, fn, batch):
    model.zero_grad()
    logps, mask = fn(model, batch)
    weights = torch.linspace(0.5, 1.5, logps.numel()).view_as(logps)  # a non-uniform upstream
    (logps * weights).sum().backward()
    return logps.detach(), mask, {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("layout", ["packed", "padded"])
def test_chunked_equals_plain_values_and_gradients(
    tokenizer, new_model, rows_factory, temperature, layout
):
    model = new_model()
    docs = docs_for(tokenizer, rows_factory)
    batch = pack_batch(docs) if layout == "packed" else pad_batch(docs, tokenizer.pad_token_id)

    def plain(m, b):
        return token_logps(forward_logits(m, b) / temperature, b["labels"])

    def chunked(m, b):  # 7 tokens a chunk: many chunks and a ragged last one
        return label_logps(m, b, temperature=temperature, chunk_tokens=7)

    assert supports_chunking(model)
    a_logps, a_mask, a_grads = grads_of(model, plain, batch)
    b_logps, b_mask, b_grads = grads_of(model, chunked, batch)
    assert torch.equal(a_mask, b_mask) and b_logps.dtype == torch.float32
    torch.testing.assert_close(b_logps, a_logps, atol=1e-5, rtol=1e-5)
    assert float(b_logps[~b_mask].abs().sum()) == 0.0
    for name, grad in a_grads.items():
        torch.testing.assert_close(b_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)
    # The head's forward is restored after the call.
    assert "forward" not in vars(model.get_output_embeddings())


def test_chunks_keep_no_logits_for_backward():
    """Checkpointed chunks save only their inputs: the autograd graph holds no [N, vocab]."""
    torch.manual_seed(0)
    hidden = torch.randn(64, 8, requires_grad=True)
    weight = torch.randn(5000, 8, requires_grad=True)
    targets = torch.randint(0, 5000, (64,))
    saved: list[int] = []

    def pack(t):
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = chunked_logps(hidden, weight, None, targets, chunk_tokens=16)
    assert max(saved) == weight.numel() < 16 * 5000  # no chunk of logits kept
    out.sum().backward()
    reference = torch.log_softmax(hidden @ weight.T, -1).gather(-1, targets[:, None])[:, 0]
    torch.testing.assert_close(out, reference)


def test_plain_path_kept_where_the_swap_would_be_wrong(new_model):
    model = new_model()
    model.config.final_logit_softcapping = 30.0  # Gemma 2 post-processes logits
    assert not supports_chunking(model)
    model = new_model()
    model.lm_head = torch.nn.Sequential(model.lm_head)  # not a plain Linear (e.g. LoRA)
    model.get_output_embeddings = lambda: model.lm_head
    assert not supports_chunking(model)


@pytest.mark.parametrize("per_token", [True, False])
def test_liger_is_used_when_present_and_falls_back_without_per_token_losses(
    monkeypatch, tokenizer, new_model, rows_factory, per_token
):
    """A stand-in for Liger's LigerFusedLinearCrossEntropyLoss (it needs CUDA/Triton): used
    when it returns one loss per token, ignored when it reduces."""
    import sys
    import types

    from trainers.core import label_logps as module

    calls = []

    class FakeLiger:
        def __init__(self, reduction):
            assert reduction == "none"

        def __call__(self, weight, hidden, targets, bias):
            calls.append(hidden.shape[0])
            logits = hidden @ weight.T + (0 if bias is None else bias)
            losses = -torch.log_softmax(logits.float(), -1).gather(-1, targets[:, None])[:, 0]
            return losses if per_token else losses.sum()

    fake = types.ModuleType("liger_kernel.transformers")
    fake.LigerFusedLinearCrossEntropyLoss = FakeLiger
    monkeypatch.setitem(sys.modules, "liger_kernel.transformers", fake)
    monkeypatch.setattr(module, "liger_available", lambda device: True)
    model = new_model()
    batch = pack_batch(docs_for(tokenizer, rows_factory))
    with torch.no_grad():
        got, _ = label_logps(model, batch, temperature=0.7)
        want, _ = token_logps(forward_logits(model, batch) / 0.7, batch["labels"])
    assert calls == [int((batch["labels"][:, 1:] != -100).sum())]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
