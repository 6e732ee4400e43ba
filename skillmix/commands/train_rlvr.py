"""`skillmix train rlvr`: GRPO with verifiable rewards (options parsed here, work in
trainers/). Attached to the `train` group, which train.py registers."""

from __future__ import annotations

import click

from skillmix.commands._options import OwnedChoice, option_for, options
from skillmix.commands.train import common_options, run_recipe, train

RLVR = "trainers.rl.config:RLVRConfig"


_opt = option_for(RLVR)

rlvr_options = options(
    common_options(RLVR),
    _opt("--num-generations", type=int, help="Completions sampled per prompt."),
    _opt("--max-new-tokens", type=int, help="Longest completion in tokens."),
    _opt(
        "--temperature",
        type=float,
        help="Sampling temperature, also applied when log-probs are recomputed.",
    ),
    _opt("--top-p", type=float, help="Nucleus sampling threshold (1: off)."),
    _opt("--top-k", type=int, help="Top-k sampling (0: off)."),
    _opt("--correct-reward", type=float, help="Reward for a verified answer; anything else 0."),
    _opt(
        "--partial-credit/--no-partial-credit",
        help="Reward x verifier score (IFEval: share of constraints met) instead of "
        "all-or-nothing.",
    ),
    _opt("--no-stop-penalty", type=float, help="Taken off a completion cut at --max-new-tokens."),
    _opt("--scale-rewards/--no-scale-rewards", help="Divide advantages by the group's reward std."),
    _opt("--epsilon-low", type=float, help="Lower clip range of the ratio."),
    _opt("--epsilon-high", type=float, help="Upper clip range of the ratio."),
    _opt("--beta", type=float, help="KL weight towards the frozen reference (k3); 0 loads none."),
    _opt("--num-iterations", type=int, help="Optimizer steps per rollout batch."),
    _opt(
        "--generation-backend",
        type=OwnedChoice("trainers.rl.generation:BACKENDS"),
        help="auto: vLLM when installed and a GPU is present, else transformers.",
    ),
    _opt("--vllm-gpu-memory-fraction", type=float, help="GPU memory share of colocated vLLM."),
    _opt(
        "--importance-sampling-cap",
        type=float,
        help="Truncated importance sampling: weight each token by min(p_trainer / "
        "p_sampler, CAP) (vLLM sampler log-probs; TRL uses 2). Unset: off.",
    ),
    _opt("--eval-data", help="Held-out rlvr mix folder for the before/after evaluation."),
    _opt("--eval-size", type=int, help="Or hold out this many rows of --data (seeded)."),
    _opt("--eval-temperature", type=float, help="Evaluation sampling temperature (0: greedy)."),
    _opt("--eval-batch-size", type=int, help="Prompts per generate call in the evaluation pass."),
)


@click.command("rlvr")
@rlvr_options
def rlvr(config_file: str | None, **_options) -> None:
    """GRPO with verifiable rewards on an rlvr mix.

    Prompts count as rows for --batch-size and --micro-batch-size; --max-length caps
    prompt plus completion (longer prompts are removed and counted).
    """
    run_recipe("rlvr", RLVR, config_file)


train.add_command(rlvr)
COMMANDS: list = []
