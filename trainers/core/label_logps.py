"""Log-probabilities of the label tokens without the full-vocabulary logits in fp32.

The plain path (`trainers.losses.sft.token_logps` on `forward_logits`) holds the model's
logits for every position ([rows, width, vocab]) and an fp32 copy of them for the softmax.
Here the LM head's `forward` is swapped, for one call of the model, for a function that takes
the final hidden states at the label positions only and computes their log-probs in chunks of
`CHUNK_TOKENS` rows, each chunk under activation checkpointing: backward recomputes a chunk's
logits instead of keeping them, so the peak is one chunk's fp32 logits. The model is still
called through its wrappers (DDP, peft, accelerate's autocast), so hooks run as usual.

When Liger Kernel is installed and the model is on a GPU, its fused linear cross-entropy
(`reduction="none"`) computes the same per-token values in one Triton kernel.

The plain path is kept (`supports_chunking` False) where the swap would be wrong: an LM head
that is not a plain `nn.Linear` (a LoRA-wrapped head), models that post-process logits
(Gemma 2's soft-capping, Cohere's `logit_scale`, Granite's `logits_scaling`), and sharded
parameters (FSDP, ZeRO-3), whose gathered head weight is gone when backward would recompute.
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from trainers.data.chat import IGNORE_INDEX

CHUNK_TOKENS = 1024  # label tokens per chunk: 1024 x 151k vocab x 4 bytes = 620 MB
LOGIT_POSTPROCESSING = ("final_logit_softcapping", "logit_scale", "logits_scaling")


def _chunk_logps(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    logits = F.linear(hidden, weight, bias).float()
    if temperature != 1.0:
        logits = logits / temperature
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def chunked_logps(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    *,
    temperature: float = 1.0,
    chunk_tokens: int = CHUNK_TOKENS,
    recompute: bool = True,
) -> torch.Tensor:
    """log softmax(hidden @ weight.T + bias)[target] / temperature-scaled, for hidden [N, H]
    and targets [N]; returns fp32 [N]."""
    parts = []
    for start in range(0, hidden.shape[0], chunk_tokens):
        args = (
            hidden[start : start + chunk_tokens],
            weight,
            bias,
            targets[start : start + chunk_tokens],
            temperature,
        )
        if recompute and torch.is_grad_enabled():
            parts.append(checkpoint(_chunk_logps, *args, use_reentrant=False))
        else:
            parts.append(_chunk_logps(*args))
    if not parts:
        return hidden.new_zeros(0, dtype=torch.float32)
    return torch.cat(parts)


def liger_available(device: torch.device) -> bool:
    return device.type == "cuda" and importlib.util.find_spec("liger_kernel") is not None


def liger_logps(hidden, weight, bias, targets, temperature: float) -> torch.Tensor | None:
    """Per-token log-probs from Liger's fused linear cross-entropy, or None when the installed
    version does not return one loss per token."""
    from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

    # logits / T == (hidden / T) @ W.T (+ b / T). The kernel wants one dtype: under autocast
    # the hidden states are bf16 and the master weights fp32.
    weight = weight.to(hidden.dtype)
    scaled_bias = None if bias is None else (bias / temperature).to(hidden.dtype)
    try:
        losses = LigerFusedLinearCrossEntropyLoss(reduction="none")(
            weight, hidden / temperature, targets, scaled_bias
        )
    except (TypeError, ValueError, AssertionError, NotImplementedError):
        return None  # a version without per-token losses
    losses = getattr(losses, "loss", losses)  # newer versions may return an output object
    if not isinstance(losses, torch.Tensor) or losses.shape != targets.shape:
        return None
    return -losses.float()


def _inner(model):
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
        model = model.module  # DDP, FSDP1, DeepSpeed engine
    return model


def _sharded() -> bool:
    try:
        from accelerate.state import AcceleratorState
        from accelerate.utils import DistributedType
    except ImportError:
        return False
    if not AcceleratorState._shared_state:  # no Accelerator made yet: nothing is sharded
        return False
    state = AcceleratorState()
    if state.num_processes < 2:
        return False
    if state.distributed_type == DistributedType.FSDP:
        return True
    if state.distributed_type == DistributedType.DEEPSPEED:
        plugin = state.deepspeed_plugin
        return plugin is not None and plugin.zero_stage == 3
    return False


def supports_chunking(model) -> bool:
    inner = _inner(model)
    head = inner.get_output_embeddings() if hasattr(inner, "get_output_embeddings") else None
    if type(head) is not torch.nn.Linear:
        return False
    config = getattr(inner, "config", None)
    if any(getattr(config, name, None) not in (None, 1.0) for name in LOGIT_POSTPROCESSING):
        return False
    return not _sharded()


def label_logps(
    model,
    batch: dict[str, torch.Tensor],
    *,
    temperature: float = 1.0,
    chunk_tokens: int = CHUNK_TOKENS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logps, mask) shaped like `labels[:, 1:]`, as `token_logps(forward_logits(...))`
    returns them (logps fp32, 0 off the mask), without full-vocabulary logits."""
    labels = batch["labels"]
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    head = _inner(model).get_output_embeddings()
    flat_targets = targets[mask]
    use_liger = liger_available(labels.device)

    def head_forward(hidden: torch.Tensor) -> torch.Tensor:
        picked = hidden[:, :-1][mask]  # only the positions that predict a label
        if use_liger:
            out = liger_logps(picked, head.weight, head.bias, flat_targets, temperature)
            if out is not None:
                return out
        return chunked_logps(
            picked,
            head.weight,
            head.bias,
            flat_targets,
            temperature=temperature,
            chunk_tokens=chunk_tokens,
        )

    kwargs = {
        "input_ids": batch["input_ids"],
        "position_ids": batch["position_ids"],
        "use_cache": False,
    }
    if "attention_mask" in batch:
        kwargs["attention_mask"] = batch["attention_mask"]
    head.forward = head_forward  # an instance attribute: nn.Module.__call__ (hooks) still runs
    try:
        values = model(**kwargs).logits
    finally:
        del head.forward
    logps = torch.zeros(mask.shape, dtype=values.dtype, device=values.device)
    return logps.masked_scatter(mask, values), mask
