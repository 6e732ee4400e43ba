"""Local generation with a `transformers` causal LM: batched, left-padded, seeded sampling.

Sampling is seeded per batch from the seeds of the requests in it, so the same requests
with the same batch size give the same answers on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from curate.backends.base import (
    Completion,
    FailureCallback,
    GenerationRequest,
    ResultCallback,
    SamplingParams,
    Usage,
)


def batch_seed(requests: Sequence[GenerationRequest]) -> int:
    text = ",".join(str(r.seed) for r in requests)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def render_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """The model's chat template when it has one, else a plain 'role: content' layout."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join([*lines, "assistant:"])


class TransformersBackend:
    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        name: str | None = None,
        batch_size: int = 8,
        device: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if isinstance(model, str):
            name = name or model
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForCausalLM.from_pretrained(model)
        if tokenizer is None:
            raise ValueError("a tokenizer is needed when the model is given as an object")
        self.model_obj = model.eval()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model_obj.to(self.device)
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"  # decoder-only: pad on the left to generate
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = name or getattr(model.config, "name_or_path", None) or "local-model"
        self.batch_size = batch_size

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        on_result: ResultCallback,
        on_failure: FailureCallback,
        usage: Usage,
    ) -> None:
        # A batch shares its sampling parameters; group by them, keeping order otherwise.
        ordered = sorted(
            requests, key=lambda r: (r.params.temperature, r.params.top_p, r.params.max_tokens)
        )
        for params, group in groupby(ordered, key=lambda r: r.params):
            items = list(group)
            for start in range(0, len(items), self.batch_size):
                batch = items[start : start + self.batch_size]
                try:
                    completions = self._generate_batch(batch, params)
                except (RuntimeError, ValueError) as exc:
                    for request in batch:
                        usage.failed += 1
                        on_failure(request, f"generation failed: {exc}")
                    continue
                for request, completion in zip(batch, completions, strict=True):
                    usage.add_completion(completion)
                    on_result(request, completion)

    def _generate_batch(
        self, batch: list[GenerationRequest], params: SamplingParams
    ) -> list[Completion]:
        import torch

        texts = [render_prompt(self.tokenizer, r.message_dicts()) for r in batch]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True).to(self.device)
        sample = params.temperature > 0
        options: dict[str, Any] = {"max_new_tokens": params.max_tokens, "do_sample": sample}
        if sample:
            options.update(temperature=params.temperature, top_p=params.top_p)
        torch.manual_seed(batch_seed(batch))
        with torch.no_grad():
            out = self.model_obj.generate(
                **enc, pad_token_id=self.tokenizer.pad_token_id, **options
            )
        prompt_len = enc["input_ids"].shape[1]
        completions = []
        for i in range(len(batch)):
            new = out[i, prompt_len:].tolist()
            if self.tokenizer.eos_token_id in new:
                new = new[: new.index(self.tokenizer.eos_token_id)]
                reason = "stop"
            else:
                reason = "length"
            completions.append(
                Completion(
                    text=self.tokenizer.decode(new, skip_special_tokens=True),
                    prompt_tokens=int(enc["attention_mask"][i].sum()),
                    completion_tokens=len(new),
                    finish_reason=reason,
                )
            )
        return completions
