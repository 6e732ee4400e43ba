"""`skillmix train sft|dpo`: train on a mix folder (options parsed here, work in trainers/).

Other recipes (RLVR) add their subcommand to the `train` group from their own module:
`from skillmix.commands.train import train, common_options` then `@train.command("rlvr")`.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from manifests import ON_BAD_ROW

Decorator = Callable[[Callable], Callable]


def _options(*specs: Decorator) -> Decorator:
    def apply(func: Callable) -> Callable:
        for spec in reversed(specs):
            func = spec(func)
        return func

    return apply


common_options = _options(
    click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False),
        help="YAML file of options (names as below, with _ or -); flags override it.",
    ),
    click.option("--data", help="Mix folder: manifest.json plus its shards (hashes are checked)."),
    click.option("--model", help="Causal LM to start from: a local folder or a hub name."),
    click.option("--output", help="Output folder: checkpoints, final/, metrics.jsonl, logs."),
    click.option("--max-length", type=int, help="Truncate conversations to this many tokens."),
    click.option("--epochs", type=int, help="Passes over the data (default 1)."),
    click.option(
        "--max-steps", type=int, help="Optimizer steps to run; overrides --epochs when given."
    ),
    click.option(
        "--learning-rate", "--lr", "learning_rate", type=float, help="Peak learning rate."
    ),
    click.option("--weight-decay", type=float, help="AdamW weight decay (not on 1-D params)."),
    click.option("--warmup-ratio", type=float, help="Share of steps spent warming up."),
    click.option(
        "--schedule",
        type=click.Choice(["linear", "cosine", "constant"]),
        help="Learning-rate decay after warmup.",
    ),
    click.option(
        "--batch-size",
        type=int,
        help="Effective batch size in rows (micro-batch x accumulation x processes).",
    ),
    click.option("--micro-batch-size", type=int, help="Rows per forward pass per device."),
    click.option("--max-grad-norm", type=float, help="Clip gradients to this norm (0: off)."),
    click.option("--bf16/--no-bf16", default=None, help="bf16 mixed precision (GPU)."),
    click.option(
        "--gradient-checkpointing/--no-gradient-checkpointing",
        default=None,
        help="Recompute activations in the backward pass to save memory.",
    ),
    click.option("--seed", type=int, help="Seed for data order and initialization."),
    click.option(
        "--packing/--no-packing",
        default=None,
        help="Padding-free packing of each micro-batch (default on).",
    ),
    click.option(
        "--pack-length",
        type=int,
        help="Tokens per packed row. Default: one row per micro-batch (no padding, "
        "best with flash attention); 0: rows as long as the longest document (best "
        "with sdpa/eager attention).",
    ),
    click.option(
        "--attn-implementation",
        help="transformers attention backend (sdpa, eager, flash_attention_2).",
    ),
    click.option(
        "--disable-dropout/--keep-dropout",
        default=None,
        help="Dropout off in policy and reference (default, as TRL).",
    ),
    click.option("--lora/--no-lora", default=None, help="Train a LoRA adapter through peft."),
    click.option("--lora-r", type=int, help="LoRA rank."),
    click.option("--lora-alpha", type=int, help="LoRA alpha."),
    click.option("--lora-dropout", type=float, help="LoRA dropout."),
    click.option("--save-every", type=int, help="Checkpoint every N steps (and at the end)."),
    click.option(
        "--keep-checkpoints", type=int, help="Keep only the newest N checkpoints (default: all)."
    ),
    click.option("--resume", help="Checkpoint folder to resume from, or 'latest' in --output."),
    click.option("--log-every", type=int, help="Write metrics every N steps."),
    click.option(
        "--tensorboard/--no-tensorboard",
        default=None,
        help="Also write TensorBoard events under output/tensorboard.",
    ),
    click.option(
        "--token-cache/--no-token-cache",
        default=None,
        help="Keep the tokenized mix on disk and reuse it (default on).",
    ),
    click.option(
        "--token-cache-dir", help="Folder of the token cache (default output/token_cache)."
    ),
    click.option(
        "--on-bad-row",
        type=click.Choice(ON_BAD_ROW),
        help="Stop on a row that breaks its contract, or skip it to rejects.jsonl.",
    ),
)


def _run(kind: str, config_file: str | None, options: dict) -> None:
    from trainers.recipes import get_recipe

    recipe = get_recipe(kind)
    try:
        summary = recipe.run(recipe.config(config_file, options))
    except (ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from err
    for line in recipe.summary(summary):
        click.echo(line)


@click.group()
def train() -> None:
    """Train on a mix: SFT, preference optimization (DPO and kin) or RLVR (GRPO)."""


@train.command("sft")
@common_options
@click.option(
    "--reduction",
    type=click.Choice(["mean", "sum"]),
    help="Loss over the accumulated batch: mean per label token, or summed.",
)
def sft(config_file: str | None, **options) -> None:
    """Supervised fine-tuning; loss on assistant tokens only."""
    _run("sft", config_file, options)


@train.command("dpo")
@common_options
@click.option(
    "--loss",
    type=click.Choice(["dpo", "dpo_norm", "simpo", "ipo", "ipo_sum"]),
    help="Preference loss (default dpo_norm, Tülu 3's choice; ipo averages per "
    "token as TRL, ipo_sum sums).",
)
@click.option("--beta", type=float, help="Preference temperature (default 5).")
@click.option("--label-smoothing", type=float, help="Conservative DPO label smoothing.")
@click.option("--simpo-gamma", type=float, help="SimPO target reward margin.")
@click.option(
    "--ref-cache-dir", help="Folder for cached reference log-probs (default output/ref_cache)."
)
def dpo(config_file: str | None, **options) -> None:
    """Direct preference optimization on a preference mix."""
    _run("dpo", config_file, options)


COMMANDS = [train]
