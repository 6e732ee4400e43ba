"""Sampling completions for GRPO: `transformers` generate by default, vLLM (colocated on
the training GPU) when it is installed and a GPU is present.

A generator returns, for each prompt, `n` completions: the generated token ids up to and
including the first end-of-sequence token, the decoded text and whether it stopped.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

BACKENDS = ("auto", "transformers", "vllm")


@dataclass(frozen=True)
class Completion:
    token_ids: list[int]
    text: str
    stopped: bool  # ended with end-of-sequence before max_new_tokens


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0  # 0: greedy
    top_p: float = 1.0
    top_k: int = 0  # 0: off
    max_new_tokens: int = 256


class Generator(Protocol):
    name: str

    def generate(
        self, prompts: Sequence[list[int]], n: int, sampling: Sampling
    ) -> list[list[Completion]]: ...

    def sync_weights(self) -> None:
        """Make the generator sample from the policy's current weights."""


def cut_at_eos(ids: Sequence[int], eos_ids: set[int]) -> tuple[list[int], bool]:
    """Ids up to and including the first end-of-sequence id; whether there was one."""
    for k, token in enumerate(ids):
        if token in eos_ids:
            return list(ids[: k + 1]), True
    return list(ids), False


def eos_ids_of(tokenizer, model=None) -> set[int]:
    ids = {tokenizer.eos_token_id}
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(config_eos, int):
        ids.add(config_eos)
    elif config_eos:
        ids.update(config_eos)
    return {i for i in ids if i is not None}


class TransformersGenerator:
    """`model.generate` on the policy itself, so it always samples from current weights."""

    name = "transformers"

    def __init__(self, get_model: Callable[[], object], tokenizer, device):
        self.get_model = get_model
        self.tokenizer = tokenizer
        self.device = device

    def sync_weights(self) -> None:  # the policy generates: nothing to copy
        return None

    def _left_pad(self, prompts: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        ids = [[pad] * (width - len(p)) + list(p) for p in prompts]
        mask = [[0] * (width - len(p)) + [1] * len(p) for p in prompts]
        return torch.tensor(ids, device=self.device), torch.tensor(mask, device=self.device)

    @torch.no_grad()
    def generate(
        self, prompts: Sequence[list[int]], n: int, sampling: Sampling
    ) -> list[list[Completion]]:
        model = self.get_model()
        eos = eos_ids_of(self.tokenizer, model)
        # Each prompt repeated n times (rather than num_return_sequences, which greedy
        # decoding refuses), so the p-th group is rows p*n .. p*n+n-1.
        input_ids, attention_mask = self._left_pad([p for p in prompts for _ in range(n)])
        # Every logits processor set explicitly: a checkpoint's generation_config (say
        # top_k=20, repetition_penalty=1.05) would otherwise change the distribution the
        # completions come from, and the log-probs would no longer describe it.
        kwargs: dict = {"do_sample": sampling.temperature > 0, "repetition_penalty": 1.0,
                        "no_repeat_ngram_size": 0}
        if sampling.temperature > 0:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p,
                          top_k=sampling.top_k, min_p=0.0, typical_p=1.0)
        was_training = model.training
        model.eval()
        try:
            out = model.generate(
                input_ids=input_ids, attention_mask=attention_mask,
                max_new_tokens=sampling.max_new_tokens,
                eos_token_id=sorted(eos), pad_token_id=self.tokenizer.pad_token_id,
                use_cache=True, **kwargs,
            )
        finally:
            model.train(was_training)
        new = out[:, input_ids.shape[1]:].tolist()
        results: list[list[Completion]] = []
        for p in range(len(prompts)):
            group = []
            for ids in new[p * n : (p + 1) * n]:
                kept, stopped = cut_at_eos(ids, eos)
                text = self.tokenizer.decode(kept, skip_special_tokens=True)
                group.append(Completion(token_ids=kept, text=text, stopped=stopped))
            results.append(group)
        return results


class VLLMGenerator:
    """A vLLM engine colocated with training on the same GPU (this process), holding
    `gpu_memory_fraction` of its memory. Before each rollout the policy's weights are
    loaded into the engine (LoRA adapters merged for the copy).

    Code path only: it needs a GPU and vLLM, neither of which the test machine has.
    """

    name = "vllm"

    def __init__(
        self, model_name: str, get_model: Callable[[], object], tokenizer, *,
        gpu_memory_fraction: float, max_model_len: int, seed: int, bf16: bool,
    ):
        # The engine must live in this process for the weights to be pushed into it.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        self.get_model = get_model
        self.tokenizer = tokenizer
        self.llm = LLM(
            model=model_name, gpu_memory_utilization=gpu_memory_fraction,
            max_model_len=max_model_len, seed=seed, enable_prefix_caching=True,
            dtype="bfloat16" if bf16 else "auto",
        )

    @contextlib.contextmanager
    def policy_weights(self) -> Iterator[dict[str, torch.Tensor]]:
        """The policy's weights under Hugging Face names. With peft, LoRA is merged in for
        the duration: the tensors share storage with the model, so they must be used
        before the adapter is unmerged again."""
        model = self.get_model()
        if not hasattr(model, "merge_adapter"):
            yield model.state_dict()
            return
        model.merge_adapter()
        try:
            yield {
                k.replace("base_model.model.", "").replace(".base_layer", ""): v
                for k, v in model.state_dict().items() if "lora_" not in k
            }
        finally:
            model.unmerge_adapter()

    def sync_weights(self) -> None:
        with self.policy_weights() as state:
            weights = list(state.items())
            if hasattr(self.llm, "apply_model"):
                self.llm.apply_model(lambda engine_model: engine_model.load_weights(weights))
            else:  # older vLLM
                executor = self.llm.llm_engine.model_executor
                executor.driver_worker.model_runner.model.load_weights(weights)
        self.llm.reset_prefix_cache()

    def generate(
        self, prompts: Sequence[list[int]], n: int, sampling: Sampling
    ) -> list[list[Completion]]:
        from vllm import SamplingParams

        params = SamplingParams(
            n=n, temperature=sampling.temperature, top_p=sampling.top_p,
            top_k=sampling.top_k or -1, max_tokens=sampling.max_new_tokens,
        )
        outputs = self.llm.generate(
            [{"prompt_token_ids": list(p)} for p in prompts], params, use_tqdm=False
        )
        return [
            [
                Completion(token_ids=list(c.token_ids), text=c.text,
                           stopped=c.finish_reason == "stop")
                for c in out.outputs
            ]
            for out in outputs
        ]


def vllm_usable() -> bool:
    return importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()


def choose_backend(requested: str) -> str:
    """"auto" means vLLM when it is installed and a GPU is present, else transformers."""
    if requested not in BACKENDS:
        raise ValueError(f"generation backend must be one of {BACKENDS}, got {requested!r}")
    if requested == "auto":
        return "vllm" if vllm_usable() else "transformers"
    if requested == "vllm" and not vllm_usable():
        raise ValueError("generation backend 'vllm' needs the vllm package and a CUDA GPU")
    return requested
