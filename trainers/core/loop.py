"""The part of a training run every recipe shares: set-up, the step loop, checkpoints, logs.

A recipe (SFT, DPO, RLVR) supplies a `step_fn(micro_batches) -> metrics` that runs the
forward and backward passes of one optimizer step on this process's micro-batches; the
loop clips, steps the optimizer and schedule, logs and checkpoints.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import torch

import manifests.progress
from trainers.core.checkpoint import (
    check_resume,
    load_checkpoint,
    prune_checkpoints,
    resolve_resume,
    save_checkpoint,
)
from trainers.core.config import TrainConfig
from trainers.core.optim import build_optimizer, build_scheduler
from trainers.core.runlog import RunLog
from trainers.data.mix import StepPlan

StepFn = Callable[[list[list[int]]], dict[str, float]]


@dataclass
class Run:
    config: TrainConfig
    accelerator: object
    model: object
    tokenizer: object
    optimizer: object = None
    scheduler: object = None
    log: RunLog | None = None
    # Model config values changed for training (dropout, use_cache), restored when saving.
    config_originals: dict = field(default_factory=dict)

    @property
    def bf16(self) -> bool:
        """bf16 autocast in effect (--bf16, or accelerate's launch/env configuration)."""
        return self.accelerator.mixed_precision == "bf16"


def make_accelerator(config: TrainConfig):
    """`--bf16` asks for bf16; otherwise accelerate's own setting stands
    (`accelerate launch --mixed_precision bf16`, ACCELERATE_MIXED_PRECISION, a DeepSpeed
    config), where a hard-coded "no" would silently run fp32."""
    from accelerate import Accelerator

    from trainers.data.collate import is_flash

    accelerator = Accelerator(mixed_precision="bf16" if config.bf16 else None)
    if is_flash(config.attn_implementation) and accelerator.mixed_precision not in ("bf16", "fp16"):
        raise ValueError(
            f"attn_implementation {config.attn_implementation!r} runs in bf16/fp16 only: give "
            "--bf16 (or accelerate's --mixed_precision bf16)"
        )
    return accelerator


def start_run(config: TrainConfig) -> Run:
    """Accelerator, seed, tokenizer and model (prepared for the devices at hand)."""
    from accelerate.utils import set_seed

    from trainers.core.modeling import load_model, load_tokenizer

    check_resume(config)  # before anything loads: a refused resume costs nothing
    accelerator = make_accelerator(config)
    set_seed(config.seed)
    tokenizer = load_tokenizer(config.model)
    model, originals = load_model(config)
    return Run(
        config=config,
        accelerator=accelerator,
        model=model,
        tokenizer=tokenizer,
        config_originals=originals,
    )


def prepare_optimization(run: Run, total_steps: int) -> None:
    config = run.config
    optimizer = build_optimizer(run.model, config.learning_rate, config.weight_decay)
    run.model, run.optimizer = run.accelerator.prepare(run.model, optimizer)
    # Not passed to prepare(): accelerate would step it once per process per step.
    run.scheduler = build_scheduler(
        run.optimizer, config.schedule, config.warmup_ratio, total_steps
    )
    run.accelerator.register_for_checkpointing(run.scheduler)
    run.model.train()


def no_sync_unless_last(run: Run, index: int, count: int):
    """Skip the gradient all-reduce on all but the last micro-batch of a step."""
    if index < count - 1:
        return run.accelerator.no_sync(run.model)
    return contextlib.nullcontext()


def reduce_sum(run: Run, value: float) -> float:
    tensor = torch.tensor([float(value)], device=run.accelerator.device)
    return float(run.accelerator.reduce(tensor, reduction="sum").item())


def train(run: Run, plan: StepPlan, step_fn: StepFn, *, extra_state: dict) -> list[dict]:
    """Run the plan from the resume point to its end; returns the metrics logged."""
    config, accelerator = run.config, run.accelerator
    start = 0
    resume_from = resolve_resume(config.resume, config.output)
    if resume_from is not None:
        state = load_checkpoint(accelerator, resume_from)
        _check_same_run(resume_from, state, len(plan.steps), extra_state)
        start = state["step"]
    # Opened at the resume point: TensorBoard drops the old run's points after it.
    run.log = RunLog(
        config.output,
        enabled=accelerator.is_main_process,
        tensorboard=config.tensorboard,
        start_step=start,
    )
    run.log.truncate_after(start)  # a fresh run starts a fresh log
    history: list[dict] = []
    total = len(plan.steps)
    progress = Progress(total, start, enabled=accelerator.is_main_process)
    for step in range(start + 1, total + 1):
        began, began_cpu = time.perf_counter(), time.process_time()
        metrics = step_fn(plan.steps[step - 1][accelerator.process_index])
        grad_norm = _clip(run)
        run.optimizer.step()
        lr = run.scheduler.get_last_lr()[0]
        run.scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - began_cpu
        metrics.update(lr=lr, grad_norm=grad_norm, step_seconds=elapsed, cpu_seconds=cpu)
        if "tokens" in metrics:
            metrics["tokens_per_second"] = metrics["tokens"] / max(elapsed, 1e-9)
        history.append({"step": step, **metrics})
        progress.update(metrics)
        if step % config.log_every == 0 or step == total:
            run.log.log(step, metrics)
        if (config.save_every and step % config.save_every == 0) or step == total:
            save_checkpoint(accelerator, config.output, step, {"total_steps": total, **extra_state})
            if accelerator.is_main_process:
                prune_checkpoints(config.output, config.keep_checkpoints)
    progress.close()
    run.log.close()
    return history


class Progress:
    """The bar over the optimizer steps (manifests.progress draws it: a terminal only) with
    loss, tokens/s and ETA; on the main process only, so ranks do not draw over each other."""

    def __init__(
        self, total: int, start: int, *, enabled: bool = True, stream: TextIO | None = None
    ):
        self.bar = manifests.progress.Progress(
            total,
            desc="train",
            unit="step",
            initial=start,
            enabled=enabled,
            stream=stream,
            mininterval=0.1,
        )

    def update(self, metrics: dict[str, float]) -> None:
        postfix = {}
        if "loss" in metrics:
            postfix["loss"] = f"{metrics['loss']:.4f}"
        rate = metrics.get("tokens_per_second", metrics.get("train_tokens_per_second"))
        if rate is not None:
            postfix["tok/s"] = f"{rate:,.0f}"
        if "reward/mean" in metrics:
            postfix["reward"] = f"{metrics['reward/mean']:.3f}"
        self.bar.update(1, **postfix)

    def close(self) -> None:
        self.bar.close()


def _check_same_run(path: Path, state: dict, total: int, extra_state: dict) -> None:
    """A resumed run must see the same data and step plan as the one that saved it."""
    if state.get("data") != extra_state.get("data"):
        raise ValueError(f"{path}: the checkpoint was trained on other shards than --data")
    if state.get("total_steps") != total:
        raise ValueError(
            f"{path}: the checkpoint's run had {state.get('total_steps')} steps, this one "
            f"{total}; resume with the same batch size, epochs and max steps"
        )


def _clip(run: Run) -> float:
    max_norm = run.config.max_grad_norm
    # All parameters (frozen ones have no gradient): under FSDP, accelerate recognizes the
    # model's full parameter list and clips with the sharded norm.
    norm = run.accelerator.clip_grad_norm_(
        run.model.parameters(), max_norm if max_norm else float("inf")
    )
    return float("nan") if norm is None else float(norm)


def save_final(run: Run) -> Path:
    """The trained model (or LoRA adapter) and tokenizer in `output/final`."""
    path = Path(run.config.output) / "final"
    accelerator = run.accelerator
    accelerator.wait_for_everyone()
    model = accelerator.unwrap_model(run.model)
    state_dict = accelerator.get_state_dict(run.model)
    with original_config_values(model, run.config_originals):
        model.save_pretrained(
            path,
            is_main_process=accelerator.is_main_process,
            save_function=accelerator.save,
            state_dict=state_dict,
        )
    if accelerator.is_main_process:
        run.tokenizer.save_pretrained(path)
    return path


@contextlib.contextmanager
def original_config_values(model, originals: dict) -> Iterator[None]:
    """The model's config as loaded (dropout, use_cache) for the duration of a save."""
    from trainers.core.modeling import set_config_values

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    model_config = getattr(base, "config", None)
    if model_config is None or not originals:
        yield
        return
    current = {}
    for dotted in originals:
        target = model_config
        for part in dotted.split("."):
            target = getattr(target, part)
        current[dotted] = target
    set_config_values(model_config, originals)
    try:
        yield
    finally:
        set_config_values(model_config, current)


def config_record(config: TrainConfig) -> dict:
    return {"config": asdict(config)}
