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
    # The sampler's log-prob of each token (vLLM), for the importance-sampling correction;
    # None where the sampler is the policy itself (transformers).
    logprobs: list[float] | None = None


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


def needs_synced_gpus(accelerator) -> bool:
    """Sharded parameters (FSDP, ZeRO-3) are gathered layer by layer in every forward, so
    all processes must keep stepping `generate` until the longest one is done."""
    from accelerate.utils import DistributedType

    if accelerator.num_processes < 2:
        return False
    if accelerator.distributed_type == DistributedType.FSDP:
        return True
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        plugin = accelerator.state.deepspeed_plugin
        return plugin is not None and plugin.zero_stage == 3
    return False


class TransformersGenerator:
    """`model.generate` on the policy itself, so it always samples from current weights."""

    name = "transformers"

    def __init__(
        self, get_model: Callable[[], object], tokenizer, device, *, synced_gpus: bool = False
    ):
        self.get_model = get_model
        self.tokenizer = tokenizer
        self.device = device
        self.synced_gpus = synced_gpus  # needs_synced_gpus(accelerator)

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
        kwargs: dict = {
            "do_sample": sampling.temperature > 0,
            "repetition_penalty": 1.0,
            "no_repeat_ngram_size": 0,
        }
        if sampling.temperature > 0:
            kwargs.update(
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                min_p=0.0,
                typical_p=1.0,
            )
        was_training = model.training
        model.eval()
        try:
            out = model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=sampling.max_new_tokens,
                eos_token_id=sorted(eos),
                pad_token_id=self.tokenizer.pad_token_id,
                use_cache=True,
                synced_gpus=self.synced_gpus,
                **kwargs,
            )
        finally:
            model.train(was_training)
        new = out[:, input_ids.shape[1] :].tolist()
        results: list[list[Completion]] = []
        for p in range(len(prompts)):
            group = []
            for ids in new[p * n : (p + 1) * n]:
                kept, stopped = cut_at_eos(ids, eos)
                text = self.tokenizer.decode(kept, skip_special_tokens=True)
                group.append(Completion(token_ids=kept, text=text, stopped=stopped))
            results.append(group)
        return results


class WeightLoader:
    """vLLM worker extension (`LLM(worker_extension_cls=...)`): vLLM mixes this class into
    its GPU worker, whose `model_runner.model` is the engine's model, and `collective_rpc`
    calls its methods by name on every worker. This is vLLM's documented way to load new
    weights into a V1 engine (examples/offline_inference/rlhf_utils.py); the V0 attribute
    chain `llm.llm_engine.model_executor.driver_worker` no longer exists in V1."""

    def load_policy_weights(self, weights: list[tuple[str, torch.Tensor]]) -> int:
        self.model_runner.model.load_weights(weights=weights)
        return len(weights)


WEIGHT_LOADER = f"{__name__}.WeightLoader"


class VLLMGenerator:
    """A vLLM engine colocated with training on the same GPU (this process), holding
    `gpu_memory_fraction` of its memory. Before each rollout the policy's weights are
    loaded into the engine through `WeightLoader` (LoRA adapters merged for the copy).
    Sampled tokens come back with their log-probs after temperature/top-p
    (`logprobs_mode="processed_logprobs"`, vLLM >= 0.10.2), for the importance-sampling
    correction.

    Needs a GPU and vLLM, neither of which the test machine has; the calls into vLLM are
    tested against a stand-in of its `LLM` class.
    """

    name = "vllm"

    def __init__(
        self,
        model_name: str,
        get_model: Callable[[], object],
        tokenizer,
        *,
        gpu_memory_fraction: float,
        max_model_len: int,
        seed: int,
        bf16: bool,
    ):
        # The engine must live in this process for the weights to be pushed into it.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        self.get_model = get_model
        self.tokenizer = tokenizer
        self.llm = LLM(
            model=model_name,
            gpu_memory_utilization=gpu_memory_fraction,
            max_model_len=max_model_len,
            seed=seed,
            enable_prefix_caching=True,
            dtype="bfloat16" if bf16 else "auto",
            worker_extension_cls=WEIGHT_LOADER,
            logprobs_mode="processed_logprobs",
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
                for k, v in model.state_dict().items()
                if "lora_" not in k
            }
        finally:
            model.unmerge_adapter()

    def sync_weights(self) -> None:
        with self.policy_weights() as state:
            # In-process engine (VLLM_ENABLE_V1_MULTIPROCESSING=0): the tensors are passed
            # by reference, not serialized.
            self.llm.collective_rpc("load_policy_weights", args=(list(state.items()),))
        self.llm.reset_prefix_cache()

    def generate(
        self, prompts: Sequence[list[int]], n: int, sampling: Sampling
    ) -> list[list[Completion]]:
        from vllm import SamplingParams

        params = SamplingParams(
            n=n,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k or -1,
            max_tokens=sampling.max_new_tokens,
            logprobs=0,  # the sampled token's own log-prob
        )
        outputs = self.llm.generate(
            [{"prompt_token_ids": list(p)} for p in prompts], params, use_tqdm=False
        )
        return [
            [
                Completion(
                    token_ids=list(c.token_ids),
                    text=c.text,
                    stopped=c.finish_reason == "stop",
                    logprobs=_sampled_logprobs(c),
                )
                for c in out.outputs
            ]
            for out in outputs
        ]


def _sampled_logprobs(output) -> list[float] | None:
    """vLLM's per-position {token id: Logprob} dicts -> the sampled tokens' log-probs."""
    if not getattr(output, "logprobs", None):
        return None
    return [
        float(step[token].logprob)
        for token, step in zip(output.token_ids, output.logprobs, strict=True)
    ]


def sampler_logps(completions: Sequence[Completion], doc_index: torch.Tensor) -> torch.Tensor:
    """The sampler's log-probs aligned with `completion_logps` (completion tokens flattened in
    batch order, `doc_index` giving each one's document, documents numbered as
    `completions`); NaN where the sampler gave none."""
    out = torch.full(doc_index.shape, float("nan"), dtype=torch.float32)
    seen = [0] * len(completions)
    for k, doc in enumerate(doc_index.tolist()):
        logprobs = completions[doc].logprobs
        if logprobs is not None:
            out[k] = logprobs[seen[doc]]
        seen[doc] += 1
    for doc, completion in enumerate(completions):
        if seen[doc] != len(completion.token_ids):
            raise ValueError(
                f"document {doc}: {seen[doc]} completion tokens in the batch, "
                f"{len(completion.token_ids)} sampled"
            )
    return out.to(doc_index.device)


def truncated_importance_weights(
    trainer_logps: torch.Tensor, sampler_logps: torch.Tensor, cap: float
) -> torch.Tensor:
    """Truncated importance sampling (Yao et al. 2025, TRL's `token_truncate`): per token,
    min(pi_trainer / pi_sampler, cap), with both log-probs taken at sampling time. It corrects
    for the sampler (vLLM, bf16 kernels) and the trainer giving the same weights different
    probabilities. Tokens without a sampler log-prob (NaN) get weight 1."""
    if cap <= 0:
        raise ValueError(f"the importance-sampling cap must be positive, got {cap}")
    delta = torch.nan_to_num(trainer_logps.detach() - sampler_logps, nan=0.0)
    return torch.exp(delta).clamp(max=cap)


def vllm_usable() -> bool:
    return importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()


def choose_backend(requested: str) -> str:
    """ "auto" means vLLM when it is installed and a GPU is present, else transformers."""
    if requested not in BACKENDS:
        raise ValueError(f"generation backend must be one of {BACKENDS}, got {requested!r}")
    if requested == "auto":
        return "vllm" if vllm_usable() else "transformers"
    if requested == "vllm" and not vllm_usable():
        raise ValueError("generation backend 'vllm' needs the vllm package and a CUDA GPU")
    return requested
