"""`skillmix train rlvr`: GRPO with verifiable rewards (options parsed here, work in
trainers/). Attached to the `train` group, which train.py registers."""

from __future__ import annotations

import click

from skillmix.commands.train import common_options, train


@click.command("rlvr")
@common_options
@click.option("--num-generations", type=int, help="Completions sampled per prompt (default 8).")
@click.option("--max-new-tokens", type=int, help="Longest completion in tokens (default 256).")
@click.option(
    "--temperature",
    type=float,
    help="Sampling temperature, also applied when log-probs are recomputed (default 1).",
)
@click.option("--top-p", type=float, help="Nucleus sampling threshold (default 1: off).")
@click.option("--top-k", type=int, help="Top-k sampling (default 0: off).")
@click.option(
    "--correct-reward",
    type=float,
    help="Reward for a verified answer; anything else earns 0 (default 10).",
)
@click.option(
    "--partial-credit/--no-partial-credit",
    default=None,
    help="Reward x verifier score (IFEval: share of constraints met) instead of all-or-nothing.",
)
@click.option(
    "--no-stop-penalty",
    type=float,
    help="Taken off a completion that hits --max-new-tokens without stopping (default 0).",
)
@click.option(
    "--scale-rewards/--no-scale-rewards",
    default=None,
    help="Divide advantages by the group's reward std (default on).",
)
@click.option("--epsilon-low", type=float, help="Lower clip range of the ratio (default 0.2).")
@click.option("--epsilon-high", type=float, help="Upper clip range of the ratio (default 0.2).")
@click.option(
    "--beta",
    type=float,
    help="KL weight towards the frozen reference (k3); 0 loads no reference (default 0.04).",
)
@click.option("--num-iterations", type=int, help="Optimizer steps per rollout batch (default 1).")
@click.option(
    "--generation-backend",
    type=click.Choice(["auto", "transformers", "vllm"]),
    help="auto: vLLM when installed and a GPU is present, else transformers.",
)
@click.option(
    "--vllm-gpu-memory-fraction",
    type=float,
    help="Share of GPU memory the colocated vLLM engine may hold (default 0.3).",
)
@click.option(
    "--importance-sampling-cap",
    type=float,
    help="Truncated importance sampling: weight each token by min(p_trainer / "
    "p_sampler, CAP) (vLLM sampler log-probs; TRL uses 2). Default off.",
)
@click.option("--eval-data", help="Held-out rlvr mix folder for the before/after evaluation.")
@click.option(
    "--eval-size",
    type=int,
    help="Or hold out this many rows of --data for the evaluation (seeded).",
)
@click.option(
    "--eval-temperature",
    type=float,
    help="Sampling temperature of the evaluation pass (default 0: greedy).",
)
@click.option(
    "--eval-batch-size",
    type=int,
    help="Prompts per generate call in the evaluation pass (default 16).",
)
def rlvr(config_file: str | None, **options) -> None:
    """GRPO with verifiable rewards on an rlvr mix.

    Prompts count as rows for --batch-size and --micro-batch-size; --max-length caps
    prompt plus completion (longer prompts are removed and counted).
    """
    from skillmix.commands.train import _run

    _run("rlvr", config_file, options)


train.add_command(rlvr)
COMMANDS: list = []
