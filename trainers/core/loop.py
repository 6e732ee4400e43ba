"""The part of a training run every recipe shares: set-up, the step loop, checkpoints, logs.

A recipe (SFT, DPO, RLVR) supplies a `step_fn(micro_batches) -> metrics` that runs the
forward and backward passes of one optimizer step on this process's micro-batches; the
loop clips, steps the optimizer and schedule, logs and checkpoints.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from trainers.core.checkpoint import (
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


def start_run(config: TrainConfig) -> Run:
    """Accelerator, seed, tokenizer and model (prepared for the devices at hand)."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from trainers.core.modeling import load_model, load_tokenizer

    accelerator = Accelerator(mixed_precision="bf16" if config.bf16 else "no")
    set_seed(config.seed)
    tokenizer = load_tokenizer(config.model)
    model = load_model(config)
    return Run(config=config, accelerator=accelerator, model=model, tokenizer=tokenizer)


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
    run.log = RunLog(
        config.output, enabled=accelerator.is_main_process, tensorboard=config.tensorboard
    )
    start = 0
    resume_from = resolve_resume(config.resume, config.output)
    if resume_from is not None:
        state = load_checkpoint(accelerator, resume_from)
        _check_same_run(resume_from, state, len(plan.steps), extra_state)
        start = state["step"]
    run.log.truncate_after(start)  # a fresh run starts a fresh log
    history: list[dict] = []
    total = len(plan.steps)
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
        if step % config.log_every == 0 or step == total:
            run.log.log(step, metrics)
        if (config.save_every and step % config.save_every == 0) or step == total:
            save_checkpoint(
                accelerator, config.output, step, {"total_steps": total, **extra_state}
            )
            if accelerator.is_main_process:
                prune_checkpoints(config.output, config.keep_checkpoints)
    run.log.close()
    return history


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
    model.save_pretrained(
        path,
        is_main_process=accelerator.is_main_process,
        save_function=accelerator.save,
        state_dict=accelerator.get_state_dict(run.model),
    )
    if accelerator.is_main_process:
        run.tokenizer.save_pretrained(path)
    return path


def config_record(config: TrainConfig) -> dict:
    return {"config": asdict(config)}

