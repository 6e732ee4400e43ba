"""trainers room: SFT and DPO loops on a mix's shards (RLVR reuses the shared pieces).

Shared pieces: `chat` (template, assistant-only labels), `collate` (padded / packed
batches), `loss` (forward and token log-probs), `data` (reading shards through the
manifest, tokenizing, step plans), `loop` (accelerate set-up, step loop, checkpoints),
`optim`, `checkpoint`, `runlog`, `config`.
"""

from trainers.chat import IGNORE_INDEX, TULU_TEMPLATE, Tokenized, tokenize_conversation
from trainers.collate import collate, pack_batch, pad_batch
from trainers.config import DPOConfig, SFTConfig, TrainConfig, load_config
from trainers.dpo import run_dpo
from trainers.dpo_loss import PreferenceLoss, preference_loss
from trainers.grpo_loss import group_advantages, grpo_loss, grpo_token_terms, k3_kl
from trainers.launch import summary_lines, train_from_options
from trainers.loss import forward_logits, per_document_sums, sft_loss_sum, token_logps
from trainers.rlvr import run_rlvr
from trainers.rlvr_config import RLVRConfig
from trainers.runlog import read_log
from trainers.sft import run_sft

__all__ = [
    "IGNORE_INDEX",
    "TULU_TEMPLATE",
    "DPOConfig",
    "PreferenceLoss",
    "RLVRConfig",
    "SFTConfig",
    "Tokenized",
    "TrainConfig",
    "collate",
    "forward_logits",
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
    "token_logps",
    "tokenize_conversation",
    "train_from_options",
]
