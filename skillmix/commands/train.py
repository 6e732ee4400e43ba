"""`skillmix train sft|dpo`: train on a mix folder (options parsed here, work in trainers/).

Each option sets a field of the recipe's config class, whose default --help shows; only the
flags given on the command line override a --config YAML file.
Other recipes (RLVR) add their subcommand to the `train` group from their own module:
`from skillmix.commands.train import train, common_options, run_recipe`.
"""

from __future__ import annotations

import click

from manifests import ON_BAD_ROW
from manifests.rejects import REJECTS_NAME
from skillmix.commands._options import (
    Decorator,
    OwnedChoice,
    config_option,
    config_values,
    option_for,
    options,
)

CONFIG = "trainers.core.config"
SFT, DPO = f"{CONFIG}:SFTConfig", f"{CONFIG}:DPOConfig"


def common_options(config: str) -> Decorator:
    """The options every recipe shares (TrainConfig's fields), with `config`'s defaults."""

    opt = option_for(config)
    return options(
        click.option(
            "--config",
            "config_file",
            type=click.Path(exists=True, dir_okay=False),
            help="YAML file of options (names as below, with _ or -); flags override it.",
        ),
        opt("--data", help="Mix folder: manifest.json plus its shards (hashes are checked)."),
        opt("--model", help="Causal LM to start from: a local folder or a hub name."),
        opt("--output", help="Output folder: checkpoints, final/, metrics.jsonl, logs."),
        opt("--max-length", type=int, help="Truncate conversations to this many tokens."),
        opt("--epochs", type=int, help="Passes over the data."),
        opt("--max-steps", type=int, help="Optimizer steps to run; overrides --epochs when given."),
        opt("--learning-rate", "--lr", "learning_rate", type=float, help="Peak learning rate."),
        opt("--weight-decay", type=float, help="AdamW weight decay (not on 1-D params)."),
        opt("--warmup-ratio", type=float, help="Share of steps spent warming up."),
        opt("--schedule", type=OwnedChoice(f"{CONFIG}:SCHEDULES"), help="LR decay."),
        opt(
            "--batch-size",
            type=int,
            help="Effective batch size in rows (micro-batch x accumulation x processes).",
        ),
        opt("--micro-batch-size", type=int, help="Rows per forward pass per device."),
        opt("--max-grad-norm", type=float, help="Clip gradients to this norm (0: off)."),
        opt("--bf16/--no-bf16", help="bf16 mixed precision (GPU)."),
        opt(
            "--gradient-checkpointing/--no-gradient-checkpointing",
            help="Recompute activations in the backward pass to save memory.",
        ),
        opt("--seed", type=int, help="Seed for data order and initialization."),
        opt("--packing/--no-packing", help="Padding-free packing of each micro-batch."),
        opt(
            "--pack-length",
            type=int,
            help="Tokens per packed row. Unset: one row per micro-batch (no padding, best "
            "with flash attention); 0: rows as long as the longest document (best with "
            "sdpa/eager attention).",
        ),
        opt(
            "--attn-implementation",
            help="transformers attention backend (sdpa, eager, flash_attention_2).",
        ),
        opt(
            "--disable-dropout/--keep-dropout",
            help="Dropout off in policy and reference (as TRL).",
        ),
        opt("--lora/--no-lora", help="Train a LoRA adapter through peft."),
        opt("--lora-r", type=int, help="LoRA rank."),
        opt("--lora-alpha", type=int, help="LoRA alpha."),
        opt("--lora-dropout", type=float, help="LoRA dropout."),
        opt("--save-every", type=int, help="Checkpoint every N steps (and at the end)."),
        opt("--keep-checkpoints", type=int, help="Keep the newest N checkpoints (unset: all)."),
        opt("--resume", help="Checkpoint folder to resume from, or 'latest' in --output."),
        opt("--log-every", type=int, help="Write metrics every N steps."),
        opt(
            "--tensorboard/--no-tensorboard",
            help="Also write TensorBoard events under output/tensorboard.",
        ),
        opt("--token-cache/--no-token-cache", help="Keep the tokenized mix on disk and reuse it."),
        opt("--token-cache-dir", help="Folder of the token cache (unset: output/token_cache)."),
        opt(
            "--on-bad-row",
            type=click.Choice(ON_BAD_ROW),
            help=f"Stop on a row that breaks its contract, or skip it to {REJECTS_NAME}.",
        ),
    )


def run_recipe(kind: str, config: str, config_file: str | None) -> None:
    """The recipe's config from the YAML file with the given flags on top; then its run."""
    from trainers.recipes import get_recipe

    recipe = get_recipe(kind)
    try:
        summary = recipe.run(recipe.config(config_file, config_values(config, given_only=True)))
    except (ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from err
    for line in recipe.summary(summary):
        click.echo(line)


@click.group()
def train() -> None:
    """Train on a mix: SFT, preference optimization (DPO and kin) or RLVR (GRPO)."""


@train.command("sft")
@common_options(SFT)
@config_option(
    "--reduction",
    config=SFT,
    type=OwnedChoice(f"{CONFIG}:REDUCTIONS"),
    help="Loss over the accumulated batch: mean per label token, or summed.",
)
def sft(config_file: str | None, **_options) -> None:
    """Supervised fine-tuning; loss on assistant tokens only."""
    run_recipe("sft", SFT, config_file)


@train.command("dpo")
@common_options(DPO)
@config_option(
    "--loss",
    config=DPO,
    type=OwnedChoice(f"{CONFIG}:DPO_LOSSES"),
    help="Preference loss (dpo_norm is Tülu 3's choice; ipo averages per token as TRL, "
    "ipo_sum sums).",
)
@config_option("--beta", config=DPO, type=float, help="Preference temperature.")
@config_option(
    "--label-smoothing", config=DPO, type=float, help="Conservative DPO label smoothing."
)
@config_option("--simpo-gamma", config=DPO, type=float, help="SimPO target reward margin.")
@config_option(
    "--ref-cache-dir",
    config=DPO,
    help="Folder for cached reference log-probs (unset: output/ref_cache).",
)
def dpo(config_file: str | None, **_options) -> None:
    """Direct preference optimization on a preference mix."""
    run_recipe("dpo", DPO, config_file)


COMMANDS = [train]
