"""RLVR (GRPO) run configuration."""

from __future__ import annotations

from dataclasses import dataclass

from trainers.core.config import TrainConfig
from trainers.rl.generation import BACKENDS


@dataclass
class RLVRConfig(TrainConfig):
    """GRPO with verifiable rewards.

    `batch_size` and `micro_batch_size` count prompts (each sampled `num_generations`
    times); `max_length` caps prompt plus completion, so prompts longer than
    `max_length - max_new_tokens` are removed. One optimizer step per rollout batch unless
    `num_iterations` > 1, which reuses each rollout for that many steps (the case where
    the ratio moves away from 1 and clipping engages).
    """

    learning_rate: float = 1e-6
    warmup_ratio: float = 0.0
    num_generations: int = 8
    max_new_tokens: int = 256
    temperature: float = 1.0  # sampling temperature, also applied when log-probs are recomputed
    top_p: float = 1.0
    top_k: int = 0
    correct_reward: float = 10.0
    partial_credit: bool = False  # reward x verifier score instead of all-or-nothing
    no_stop_penalty: float = 0.0  # taken off a completion that never emitted end-of-sequence
    scale_rewards: bool = True  # divide advantages by the group's std
    epsilon_low: float = 0.2
    epsilon_high: float = 0.2
    beta: float = 0.04  # KL weight; 0 loads no reference model
    num_iterations: int = 1
    generation_backend: str = "auto"  # auto | transformers | vllm
    vllm_gpu_memory_fraction: float = 0.3
    # Truncated importance sampling: weight each token's policy loss by
    # min(p_trainer / p_sampler, cap) at sampling time (TRL's vllm_importance_sampling_*
    # with mode token_truncate; TRL's default cap is 2). None: off. Only vLLM reports sampler
    # log-probs; with transformers generation the sampler is the policy and weights are 1.
    importance_sampling_cap: float | None = None
    eval_data: str | None = None  # a held-out rlvr mix folder
    eval_size: int = 0  # or: rows of the training mix held out (seeded choice)
    eval_temperature: float = 0.0  # 0: greedy pass@1
    eval_batch_size: int = 16  # prompts per generate call in the evaluation pass

    def validate(self) -> None:
        super().validate()
        if self.num_generations < 2:
            raise ValueError("num_generations must be at least 2 (advantages compare a group)")
        if self.max_new_tokens < 1 or self.max_new_tokens >= self.max_length:
            raise ValueError("max_new_tokens must be at least 1 and below max_length")
        if self.temperature <= 0:
            raise ValueError("temperature must be positive for GRPO sampling")
        if self.beta < 0:
            raise ValueError("beta must be >= 0")
        if not (0 <= self.epsilon_low < 1 and self.epsilon_high >= 0):
            raise ValueError("epsilon_low must be in [0, 1) and epsilon_high >= 0")
        if self.num_iterations < 1:
            raise ValueError("num_iterations must be at least 1")
        if self.generation_backend not in BACKENDS:
            raise ValueError(f"generation_backend must be one of {BACKENDS}")
        if self.importance_sampling_cap is not None and self.importance_sampling_cap <= 0:
            raise ValueError("importance_sampling_cap must be positive (or unset)")
        if not 0 < self.vllm_gpu_memory_fraction <= 1:
            raise ValueError("vllm_gpu_memory_fraction must be in (0, 1]")
        if self.eval_size < 0 or self.eval_temperature < 0 or self.eval_batch_size < 1:
            raise ValueError("eval_size, eval_temperature must be >= 0, eval_batch_size >= 1")
        if self.pack_length and self.pack_length < self.max_length:
            # A completion cannot be cut without changing what was sampled.
            raise ValueError(
                f"pack_length {self.pack_length} is below max_length "
                f"{self.max_length}: for rlvr give 0, none or >= max_length"
            )
        if self.eval_data and self.eval_size:
            raise ValueError("give eval_data or eval_size, not both")
