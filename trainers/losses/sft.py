"""Forward pass and token-level losses shared by the SFT, DPO and RLVR loops."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainers.data.chat import IGNORE_INDEX


def forward_logits(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits for a padded or packed batch.

    `use_cache=False` always: with a cache, transformers ignores packed position ids and
    packed documents attend to each other. A packed batch carries no attention mask.
    """
    kwargs = {
        "input_ids": batch["input_ids"],
        "position_ids": batch["position_ids"],
        "use_cache": False,
    }
    if "attention_mask" in batch:
        kwargs["attention_mask"] = batch["attention_mask"]
    return model(**kwargs).logits


def token_logps(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each label token given the tokens before it.

    Returns (logps, mask), both shaped like `labels[:, 1:]`; logps is 0 where mask is False.
    """
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    logits = logits[:, :-1].float()
    safe = targets.masked_fill(~mask, 0)
    logps = -F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), safe.reshape(-1), reduction="none"
    ).view_as(safe)
    return logps * mask, mask


def model_logps(
    model, batch: dict[str, torch.Tensor], temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """`token_logps` of the model on the batch; computed from hidden states in chunks (no
    full-vocabulary fp32 logits, `trainers.core.label_logps`) where the model allows it."""
    from trainers.core.label_logps import label_logps, supports_chunking

    if supports_chunking(model):
        return label_logps(model, batch, temperature=temperature)
    logits = forward_logits(model, batch)
    return token_logps(logits / temperature if temperature != 1.0 else logits, batch["labels"])


def label_count(batch: dict[str, torch.Tensor]) -> int:
    """Label tokens in a batch (the first token of each row never has one)."""
    return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


def sft_loss_sum(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed negative log-likelihood over the batch's label tokens, and their count."""
    logps, mask = model_logps(model, batch)
    return -logps.sum(), int(mask.sum())


def per_document_sums(
    model, batch: dict[str, torch.Tensor], num_docs: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed label log-probs and label counts per document (padded or packed layout)."""
    logps, mask = model_logps(model, batch)
    doc = batch["doc_index"][:, 1:].clamp(min=0).reshape(-1)
    sums = torch.zeros(num_docs, dtype=logps.dtype, device=logps.device)
    counts = torch.zeros(num_docs, dtype=torch.long, device=logps.device)
    sums = sums.index_add(0, doc, logps.reshape(-1))
    counts = counts.index_add(0, doc, mask.reshape(-1).long())
    return sums, counts
