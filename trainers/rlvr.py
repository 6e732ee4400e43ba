"""RLVR: GRPO with verifiable rewards on an `rlvr` mix.

Each optimizer step samples `num_generations` completions for every prompt of its batch,
scores them with the row's verifier, and takes one clipped-ratio step with a k3 KL penalty
towards a frozen reference. The per-token loss is divided by the completion-token count of
the whole step (all micro-batches, all processes, zero-signal groups included), and every
group keeps its KL term: TRL's default `dapo` loss (see docs/rlvr.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from manifests import Accounting, RejectsWriter, RowGate
from manifests.rejects import REJECTS_NAME
from trainers.core.loop import (
    Run,
    config_record,
    no_sync_unless_last,
    prepare_optimization,
    reduce_sum,
    save_final,
    start_run,
    train,
)
from trainers.data.chat import IGNORE_INDEX
from trainers.data.collate import Layout, collate, padding_tokens
from trainers.data.mix import StepPlan, mix_fingerprint, plan_steps, read_mix
from trainers.data.prompts import Prompt, hold_out, tokenize_prompts
from trainers.losses.grpo import group_advantages, grpo_token_terms
from trainers.rl.config import RLVRConfig
from trainers.rl.evaluation import evaluate
from trainers.rl.generation import (
    Generator,
    Sampling,
    TransformersGenerator,
    VLLMGenerator,
    choose_backend,
    needs_synced_gpus,
    sampler_logps,
    truncated_importance_weights,
)
from trainers.rl.rewards import RewardSpec
from trainers.rl.rollout import (
    STAT_KEYS,
    Rollout,
    completion_logps,
    completion_tokens,
    rollout_stats,
    score_groups,
    stats_to_metrics,
    training_docs,
)


def reward_spec(config: RLVRConfig) -> RewardSpec:
    return RewardSpec(config.correct_reward, config.partial_credit, config.no_stop_penalty)


def sampling_of(config: RLVRConfig, *, evaluation: bool = False) -> Sampling:
    return Sampling(
        temperature=config.eval_temperature if evaluation else config.temperature,
        top_p=config.top_p,
        top_k=config.top_k,
        max_new_tokens=config.max_new_tokens,
    )


def repeat_steps(plan: StepPlan, times: int, max_steps: int | None) -> StepPlan:
    """Each rollout step `times` times in a row. The repeats share one list object, which
    is how the step function knows a rollout can be reused."""
    steps = [step for step in plan.steps for _ in range(times)]
    if max_steps is not None:
        steps = steps[:max_steps]
    return StepPlan(steps=steps, dropped_per_epoch=plan.dropped_per_epoch)


# Per-step sums of the training passes, reduced over processes in this order.
TOTAL_KEYS = ("loss_sum", "clipped", "kl_sum", "ratio_sum", "ratio_tokens", "tokens")


class GRPOStep:
    """`step_fn` for the shared loop: rollout (unless this step reuses the last one), then
    the forward/backward passes of one optimizer step."""

    def __init__(self, run: Run, prompts: list[Prompt], generator: Generator, ref_model=None):
        self.run = run
        self.config: RLVRConfig = run.config
        self.prompts = prompts
        self.generator = generator
        self.ref_model = ref_model
        self.spec = reward_spec(self.config)
        self.sampling = sampling_of(self.config)
        self._key: list | None = None
        self._rollouts: list[Rollout] = []
        self._is_weights: list[torch.Tensor | None] = []  # per rollout, per completion token
        self._timing: dict[str, float] = {}
        self.zero_signal_groups = 0

    # -- rollout -----------------------------------------------------------------------
    def _reference_logps(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        config, run = self.config, self.run
        if config.beta == 0:
            return None
        with torch.no_grad():
            if self.ref_model is not None:
                return completion_logps(self.ref_model, batch, config.temperature)[0]
            # LoRA: the reference is the base model, i.e. the policy with its adapter off.
            with run.accelerator.unwrap_model(run.model).disable_adapter():
                return completion_logps(run.model, batch, config.temperature)[0]

    def _importance_weights(self, batch, completions, keep, old) -> torch.Tensor | None:
        """Truncated importance weights of a rollout's completion tokens (or None: off)."""
        cap = self.config.importance_sampling_cap
        if cap is None:
            return None
        # The documents' completions, in the order `training_docs` makes documents.
        docs = [c for p, group in enumerate(completions) if keep[p] for c in group if c.token_ids]
        if old is None:
            with torch.no_grad():
                old, doc = completion_logps(self.run.model, batch, self.config.temperature)
        else:
            doc = batch["doc_index"][:, 1:][batch["labels"][:, 1:] != IGNORE_INDEX]
        return truncated_importance_weights(old, sampler_logps(docs, doc), cap)

    def _rollout(self, indices: list[int]) -> Rollout:
        config, device = self.config, self.run.accelerator.device
        prompts = [self.prompts[i] for i in indices]
        began = time.perf_counter()
        completions = self.generator.generate(
            [p.input_ids for p in prompts], config.num_generations, self.sampling
        )
        self._timing["generation_seconds"] += time.perf_counter() - began
        began = time.perf_counter()
        scored = score_groups(prompts, completions, self.spec)
        rewards = torch.tensor([[s.reward for s in group] for group in scored])
        advantages, signal = group_advantages(rewards, scale_by_std=config.scale_rewards)
        stats = rollout_stats(prompts, completions, scored, signal)
        self._timing["reward_seconds"] += time.perf_counter() - began
        # A zero-signal group has advantage 0, so no policy-gradient term; it keeps its KL
        # term (beta > 0) and, always, its tokens in the normalizer. With beta 0 it adds
        # nothing to the gradient, so it is not run through the model.
        keep = signal | (config.beta > 0)
        docs, doc_advantages = training_docs(prompts, completions, advantages, keep)
        num_tokens = completion_tokens(completions)
        if not docs:
            self._is_weights.append(None)
            return Rollout(None, None, None, None, num_tokens, stats)
        began = time.perf_counter()
        batch = collate(docs, pad_id=self.run.tokenizer.pad_token_id, layout=Layout.of(config))
        batch = {k: v.to(device) for k, v in batch.items()}
        old = None
        if config.num_iterations > 1:
            with torch.no_grad():
                old = completion_logps(self.run.model, batch, config.temperature)[0]
        ref = self._reference_logps(batch)
        self._is_weights.append(self._importance_weights(batch, completions, keep, old))
        self._timing["reference_seconds"] += time.perf_counter() - began
        return Rollout(
            batch, torch.tensor(doc_advantages, device=device), old, ref, num_tokens, stats
        )

    # -- training ----------------------------------------------------------------------
    def _train_micro_batch(
        self, rollout: Rollout, scale: float, is_weights: torch.Tensor | None = None
    ) -> dict[str, float]:
        config = self.config
        logps, doc = completion_logps(self.run.model, rollout.batch, config.temperature)
        old = rollout.old_logps if rollout.old_logps is not None else logps.detach()
        terms = grpo_token_terms(
            logps,
            old,
            rollout.advantages[doc],
            rollout.ref_logps,
            epsilon_low=config.epsilon_low,
            epsilon_high=config.epsilon_high,
            beta=config.beta,
        )
        loss = terms.loss
        if is_weights is not None:  # the policy term only, as TRL: the KL term stays as is
            kl_term = config.beta * terms.kl if terms.kl is not None and config.beta else 0.0
            loss = (loss - kl_term) * is_weights + kl_term
        self.run.accelerator.backward(loss.sum() * scale)
        return {
            "loss_sum": float(terms.loss.detach().sum()),
            "clipped": float(terms.clipped.sum()),
            "kl_sum": float(terms.kl.detach().sum()) if terms.kl is not None else 0.0,
            "ratio_sum": float(terms.ratio.detach().sum()),
            "ratio_tokens": float(terms.ratio.numel()),  # the completion tokens run here
            "tokens": float(rollout.batch["input_ids"].numel() - padding_tokens(rollout.batch)),
        }

    def _dummy_backward(self) -> None:
        """A zero gradient, so every process joins the gradient all-reduce."""
        params = [p for p in self.run.model.parameters() if p.requires_grad]
        self.run.accelerator.backward(sum(p.sum() for p in params) * 0.0)

    def __call__(self, micro_batches: list[list[int]]) -> dict[str, float]:
        run = self.run
        fresh = micro_batches is not self._key
        self._timing = dict.fromkeys(
            ("generation_seconds", "reward_seconds", "reference_seconds"), 0.0
        )
        if fresh:
            self.generator.sync_weights()
            self._is_weights = []
            self._rollouts = [self._rollout(mb) for mb in micro_batches]
            self._key = micro_batches
        began = time.perf_counter()
        global_tokens = reduce_sum(run, sum(r.num_tokens for r in self._rollouts))
        scale = run.accelerator.num_processes / max(global_tokens, 1.0)
        totals = dict.fromkeys(TOTAL_KEYS, 0.0)
        trainable = [
            (r, w)
            for r, w in zip(self._rollouts, self._is_weights, strict=True)
            if r.batch is not None
        ]
        for index, (rollout, weights) in enumerate(trainable):
            with no_sync_unless_last(run, index, len(trainable)):
                for key, value in self._train_micro_batch(rollout, scale, weights).items():
                    totals[key] += value
        if global_tokens and not trainable:
            self._dummy_backward()
        train_seconds = time.perf_counter() - began
        return self._metrics(fresh, global_tokens, totals, train_seconds)

    def _metrics(
        self, fresh: bool, global_tokens: float, totals: dict[str, float], train_seconds: float
    ) -> dict[str, float]:
        run = self.run
        keys = list(STAT_KEYS)
        local = [sum(r.stats[k] for r in self._rollouts) for k in keys]
        local += [totals[k] for k in TOTAL_KEYS]
        local += [self._timing[k] for k in sorted(self._timing)]
        vector = torch.tensor(local, dtype=torch.float64, device=run.accelerator.device)
        summed = run.accelerator.reduce(vector, reduction="sum").tolist()
        stats = dict(zip(keys, summed[: len(keys)], strict=True))
        end = len(keys) + len(TOTAL_KEYS)
        loss_sum, clipped, kl_sum, ratio_sum, ratio_tokens, tokens = summed[len(keys) : end]
        processes = run.accelerator.num_processes
        timing = {k: v / processes for k, v in zip(sorted(self._timing), summed[end:], strict=True)}
        if fresh:
            self.zero_signal_groups += int(stats["zero_signal_groups"])
        n = max(global_tokens, 1.0)
        metrics = stats_to_metrics(stats)
        metrics.update(
            {
                "loss": loss_sum / n,
                "clip_fraction": clipped / n,
                # Over the tokens run through the model (with beta 0, zero-signal groups are not).
                "ratio_mean": ratio_sum / ratio_tokens if ratio_tokens else 1.0,
                "loss_tokens": global_tokens,
                "tokens": tokens,
                "new_rollout": float(fresh),
                **timing,
                "train_seconds": train_seconds,
                "train_tokens_per_second": tokens / max(train_seconds, 1e-9),
            }
        )
        if self.config.beta > 0:
            metrics["kl"] = kl_sum / n
        if fresh:
            metrics["generation_tokens_per_second"] = stats["length_sum"] / max(
                timing["generation_seconds"], 1e-9
            )
        return metrics


def load_prompts(
    run: Run, data: str, accounting: Accounting, rejects: RejectsWriter
) -> list[Prompt]:
    config: RLVRConfig = run.config
    gate = RowGate(config.on_bad_row, rejects, accounting)
    rows = read_mix(data, "rlvr", gate)
    prompts = tokenize_prompts(
        rows,
        run.tokenizer,
        config.max_length - config.max_new_tokens,
        accounting,
        source=str(data),
        gate=gate,
    )
    gate.finish(str(data))
    accounting.check()
    return prompts


def build_generator(run: Run) -> Generator:
    config: RLVRConfig = run.config

    def policy():
        return run.accelerator.unwrap_model(run.model)

    if choose_backend(config.generation_backend) == "vllm":
        return VLLMGenerator(
            config.model,
            policy,
            run.tokenizer,
            gpu_memory_fraction=config.vllm_gpu_memory_fraction,
            max_model_len=config.max_length,
            seed=config.seed + run.accelerator.process_index,
            bf16=run.bf16,
        )
    return TransformersGenerator(
        policy,
        run.tokenizer,
        run.accelerator.device,
        synced_gpus=needs_synced_gpus(run.accelerator),
    )


def build_reference(run: Run):
    """A frozen copy of the starting model; None when beta is 0 (nothing is loaded) or with
    LoRA (the adapter is switched off instead)."""
    config: RLVRConfig = run.config
    if config.beta == 0 or config.lora:
        return None
    from trainers.core import modeling
    from trainers.core.reference import prepare_reference

    return prepare_reference(run.accelerator, modeling.load_reference_model(config, bf16=run.bf16))


def run_evaluation(run: Run, generator: Generator, prompts: list[Prompt]) -> dict | None:
    config: RLVRConfig = run.config
    if not prompts:
        return None
    accelerator = run.accelerator
    return evaluate(
        generator,
        prompts,
        reward_spec(config),
        sampling_of(config, evaluation=True),
        batch_size=config.eval_batch_size,
        process_index=accelerator.process_index,
        num_processes=accelerator.num_processes,
        reduce=lambda t: accelerator.reduce(t.to(accelerator.device), reduction="sum").cpu(),
    )


def _eval_before(run: Run, generator: Generator, prompts: list[Prompt]) -> dict | None:
    """The starting model's evaluation, kept in the output so a resumed run reuses it."""
    path = Path(run.config.output) / "eval_before.json"
    if run.config.resume and path.exists():
        return json.loads(path.read_text())
    report = run_evaluation(run, generator, prompts)
    if report is not None and run.accelerator.is_main_process:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2))
    return report


def run_rlvr(config: RLVRConfig) -> dict:
    """Train; returns a summary (rows accounting, steps, skipped groups, evaluation before
    and after, output paths)."""
    run = start_run(config)
    accounting, eval_accounting = Accounting(), Accounting()
    with RejectsWriter(Path(config.output) / REJECTS_NAME) as rejects:
        prompts = load_prompts(run, config.data, accounting, rejects)
        if config.eval_data:
            held_out = load_prompts(run, config.eval_data, eval_accounting, rejects)
        else:
            prompts, held_out = hold_out(prompts, config.eval_size, config.seed)
    rollout_plan = plan_steps(
        len(prompts),
        batch_size=config.batch_size,
        micro_batch_size=config.micro_batch_size,
        num_processes=run.accelerator.num_processes,
        epochs=config.epochs,
        seed=config.seed,
        max_steps=None
        if config.max_steps is None
        else -(-config.max_steps // config.num_iterations),
    )
    plan = repeat_steps(rollout_plan, config.num_iterations, config.max_steps)
    ref_model = build_reference(run)
    prepare_optimization(run, len(plan.steps))
    generator = build_generator(run)
    before = _eval_before(run, generator, held_out)
    step_fn = GRPOStep(run, prompts, generator, ref_model)
    extra = {"data": mix_fingerprint(config.data), **config_record(config)}
    history = train(run, plan, step_fn, extra_state=extra)
    after = run_evaluation(run, generator, held_out)
    final = save_final(run)
    summary = {
        "accounting": accounting.to_dict(),
        "eval_accounting": eval_accounting.to_dict() if config.eval_data else None,
        "train_prompts": len(prompts),
        "eval_prompts": len(held_out),
        "steps": len(plan.steps),
        "rows_dropped_per_epoch": plan.dropped_per_epoch,
        "generation_backend": generator.name,
        "reference": "none"
        if config.beta == 0
        else ("adapter_disabled" if config.lora else "frozen_copy"),
        "zero_signal_groups_skipped": step_fn.zero_signal_groups,
        "first_reward": history[0]["reward/mean"] if history else None,
        "final_reward": history[-1]["reward/mean"] if history else None,
        "eval": {"before": before, "after": after},
        "output": str(final),
    }
    if run.accelerator.is_main_process:
        (Path(config.output) / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
