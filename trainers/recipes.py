"""The recipe registry: each training recipe (sft, dpo, rlvr) declares its config class, the
row kind it reads, its run function and its summary, so the CLI and the pipeline's train
stage look recipes up here instead of branching on names.

Run functions are named as "module:function" and imported on use, so reading the registry
(the CLI's help, the pipeline's validation) does not import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainers.core.config import DPOConfig, SFTConfig, TrainConfig, load_config
from trainers.core.summary import summary_lines
from trainers.rl.config import RLVRConfig
from trainers.rl.summary import rlvr_summary_lines


@dataclass(frozen=True)
class Recipe:
    name: str
    config_class: type[TrainConfig]
    row_kind: str  # the manifest's row kind the recipe trains on
    run_function: str  # "module:function", imported on use
    summary: Callable[[dict], list[str]]
    help: str = ""

    def run(self, config: TrainConfig) -> dict:
        module, _, function = self.run_function.partition(":")
        return getattr(importlib.import_module(module), function)(config)

    def config(self, config_file: str | None, options: dict[str, Any]) -> TrainConfig:
        return load_config(self.config_class, config_file, options)


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "sft",
            SFTConfig,
            "sft",
            "trainers.sft:run_sft",
            summary_lines,
            "supervised fine-tuning, loss on assistant tokens",
        ),
        Recipe(
            "dpo",
            DPOConfig,
            "preference",
            "trainers.dpo:run_dpo",
            summary_lines,
            "preference optimization (dpo, dpo_norm, simpo, ipo, ipo_sum)",
        ),
        Recipe(
            "rlvr",
            RLVRConfig,
            "rlvr",
            "trainers.rlvr:run_rlvr",
            rlvr_summary_lines,
            "GRPO with verifiable rewards",
        ),
    )
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(
            f"unknown training recipe {name!r}: expected one of {', '.join(sorted(RECIPES))}"
        ) from None


def train_from_options(kind: str, config_file: str | None, options: dict[str, Any]) -> dict:
    """Build the recipe's config (YAML file, then flags) and run it."""
    recipe = get_recipe(kind)
    return recipe.run(recipe.config(config_file, options))
