"""The flash-attention-2 layout, checked on the CPU through transformers' own code.

transformers picks flash attention's varlen kernel from `position_ids` only for a batch of one
row (`_is_packed_sequence`). The tests run transformers' real flash-attention dispatch
(`_flash_attention_forward`) with reference CPU implementations of the two kernels in place of
the flash-attn package, so a layout that would leak across documents on a GPU leaks here too.
"""

import itertools

import pytest
import torch
import torch.nn.functional as F
from transformers import modeling_flash_attention_utils as fa_utils

from trainers.data.chat import Tokenized
from trainers.data.collate import Layout, collate, is_flash, pad_batch
from trainers.losses.sft import sft_loss_sum

from .test_packing import docs_for


def _attend(q, k, v, scale, causal):
    """q [L, H, D], k/v [L, Hkv, D] -> [L, H, D]: causal attention with grouped heads."""
    q, k, v = (t.transpose(0, 1) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale, enable_gqa=True)
    return out.transpose(0, 1)


def reference_flash(q, k, v, dropout_p=0.0, softmax_scale=None, causal=True):
    """flash_attn_func: every row attends over all of itself (causally)."""
    return torch.stack(
        [_attend(q[b], k[b], v[b], softmax_scale, causal) for b in range(q.shape[0])]
    )


def reference_varlen(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    max_seqlen_q=None,
    max_seqlen_k=None,
    dropout_p=0.0,
    softmax_scale=None,
    causal=True,
):
    """flash_attn_varlen_func: each segment [cu[i], cu[i+1]) attends only within itself."""
    calls.append(cu_seqlens_q.tolist())
    bounds = cu_seqlens_q.tolist()
    return torch.cat(
        [
            _attend(q[a:b], k[a:b], v[a:b], softmax_scale, causal)
            for a, b in itertools.pairwise(bounds)
        ]
    )


calls: list[list[int]] = []


@pytest.fixture
def cpu_flash(monkeypatch):
    """transformers' flash-attention-2 path with reference kernels."""
    monkeypatch.setattr(
        fa_utils,
        "_lazy_imports",
        lambda *a, **k: (
            reference_flash,
            reference_varlen,
            None,
            fa_utils._pad_input,
            fa_utils._unpad_input,
        ),
    )
    monkeypatch.setattr(fa_utils, "_loaded_implementation", None)
    calls.clear()
    yield
    monkeypatch.setattr(fa_utils, "_loaded_implementation", None)


def flash_model(new_model):
    model = new_model()
    model.config._attn_implementation = "flash_attention_2"
    return model


def loss(model, batch) -> float:
    with torch.no_grad():
        total, count = sft_loss_sum(model, batch)
    return float(total / count)


def boundaries(docs) -> list[int]:
    out = [0]
    for d in docs:
        out.append(out[-1] + len(d.input_ids))
    return out


def test_flash_layout_is_one_row_transformers_reads_as_packed(tokenizer, rows_factory):
    docs = docs_for(tokenizer, rows_factory)
    # pack_length 0 / N would make several rows for sdpa; under flash it is one row.
    for pack_length in (None, 0, max(len(d.input_ids) for d in docs)):
        layout = Layout(packing=True, pack_length=pack_length, one_row=True)
        batch = collate(docs, pad_id=tokenizer.pad_token_id, layout=layout)
        assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch
        assert fa_utils._is_packed_sequence(batch["position_ids"], 1)
        (cu_q, cu_k), (max_q, _) = fa_utils.prepare_fa_kwargs_from_position_ids(
            batch["position_ids"]
        )
        assert cu_q.tolist() == cu_k.tolist() == boundaries(docs)
        assert int(max_q) == max(len(d.input_ids) for d in docs)
    # Several rows are not read as packed: the plain kernel would mix documents.
    width = 2 * max(len(d.input_ids) for d in docs)
    rows = collate(docs, pad_id=tokenizer.pad_token_id, layout=Layout(pack_length=width))
    assert 1 < rows["input_ids"].shape[0] < len(docs)
    assert not fa_utils._is_packed_sequence(rows["position_ids"], rows["input_ids"].shape[0])


def test_layout_of_config_follows_the_backend():
    from trainers.core.config import SFTConfig

    flash = Layout.of(SFTConfig(attn_implementation="flash_attention_2", pack_length=64))
    assert flash.one_row and flash.pack_length == 64
    assert not Layout.of(SFTConfig(attn_implementation="sdpa")).one_row
    assert is_flash("kernels-community/flash-attn2") and not is_flash("flex_attention")


def test_packed_flash_equals_padded_and_multi_row_leaks(
    cpu_flash, tokenizer, new_model, rows_factory
):
    """On the real dispatch: the one-row layout runs the varlen kernel with the documents'
    boundaries and matches the padded loss; several packed rows without a mask do not."""
    model = flash_model(new_model)
    docs = docs_for(tokenizer, rows_factory)
    padded = loss(model, pad_batch(docs, tokenizer.pad_token_id))
    one_row = collate(docs, pad_id=tokenizer.pad_token_id, layout=Layout(one_row=True))
    calls.clear()
    packed = loss(model, one_row)
    assert calls and calls[0] == boundaries(docs)  # the varlen kernel saw the documents
    assert packed == pytest.approx(padded, abs=1e-5)
    # Rows of two or three documents each, as --pack-length N makes for sdpa.
    width = 2 * max(len(d.input_ids) for d in docs)
    leaky = collate(docs, pad_id=tokenizer.pad_token_id, layout=Layout(pack_length=width))
    assert 1 < leaky["input_ids"].shape[0] < len(docs)
    calls.clear()
    leaked = loss(model, leaky)
    assert not calls  # no varlen call: documents in a row attend to each other
    assert abs(leaked - padded) > 1e-4  # 50x the tolerance the packed layout meets


def test_padding_within_one_flash_row_is_its_own_segment(tokenizer):
    docs = [
        Tokenized(input_ids=[5, 6, 7], labels=[5, 6, 7]),
        Tokenized(input_ids=[8, 9], labels=[8, 9]),
    ]
    batch = collate(docs, pad_id=0, layout=Layout(one_row=True))
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    (cu, _), _ = fa_utils.prepare_fa_kwargs_from_position_ids(batch["position_ids"])
    assert cu.tolist() == [0, 3, 5]
