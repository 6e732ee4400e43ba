"""trainers room: recipes (sft, dpo, rlvr) over shared parts.

- `recipes`: the registry; each recipe declares its config class, row kind, run function
  and summary (`RECIPES`, `get_recipe`, `train_from_options`).
- `core/`: config, the accelerate set-up and step loop, checkpoints, optimizer, run log,
  model loading, the shared tokenized-run set-up, DPO reference log-probs, summaries.
- `data/`: chat template and labels, collation (padded / packed), reading a mix, the token
  cache, RLVR prompts.
- `losses/`: one module per family (sft, preference, grpo) and the shared token
  normalization.
- `rl/`: rollout, generation backends, rewards, evaluation, the RLVR config and summary.
- `tiny_model`: the one tiny random Llama (and BPE tokenizer) for tests, benchmarks and
  `train: {model: tiny}`.
"""

from trainers.core.config import DPOConfig, SFTConfig, TrainConfig, load_config
from trainers.core.runlog import read_log
from trainers.core.summary import summary_lines
from trainers.data.chat import IGNORE_INDEX, TULU_TEMPLATE, Tokenized, tokenize_conversation
from trainers.data.collate import collate, pack_batch, pad_batch
from trainers.dpo import run_dpo
from trainers.losses.grpo import group_advantages, grpo_loss, grpo_token_terms, k3_kl
from trainers.losses.preference import PreferenceLoss, preference_loss
from trainers.losses.sft import forward_logits, per_document_sums, sft_loss_sum, token_logps
from trainers.recipes import RECIPES, Recipe, get_recipe, train_from_options
from trainers.rl.config import RLVRConfig
from trainers.rlvr import run_rlvr
from trainers.sft import run_sft
from trainers.tiny_model import build_tiny_model, tiny_llama, train_tokenizer

__all__ = [
    "IGNORE_INDEX",
    "RECIPES",
    "TULU_TEMPLATE",
    "DPOConfig",
    "PreferenceLoss",
    "RLVRConfig",
    "Recipe",
    "SFTConfig",
    "Tokenized",
    "TrainConfig",
    "build_tiny_model",
    "collate",
    "forward_logits",
    "get_recipe",
    "group_advantages",
    "grpo_loss",
    "grpo_token_terms",
    "k3_kl",
    "load_config",
    "pack_batch",
    "pad_batch",
    "per_document_sums",
    "preference_loss",
    "read_log",
    "run_dpo",
    "run_rlvr",
    "run_sft",
    "sft_loss_sum",
    "summary_lines",
    "tiny_llama",
    "token_logps",
    "tokenize_conversation",
    "train_from_options",
    "train_tokenizer",
]
