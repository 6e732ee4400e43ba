"""Loading the model and tokenizer, with optional LoRA through peft."""

from __future__ import annotations

import torch

from trainers.core.config import TrainConfig
from trainers.data.chat import ensure_chat_template


def load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    if not tokenizer.is_fast:
        raise ValueError(f"{name_or_path}: a fast tokenizer is needed (for token offsets)")
    ensure_chat_template(tokenizer)
    return tokenizer


def load_model(config: TrainConfig):
    """The causal LM to train: dtype, attention backend, checkpointing and LoRA applied."""
    from transformers import AutoModelForCausalLM

    # fp32 master weights; with --bf16 accelerate runs the forward under bf16 autocast.
    model = AutoModelForCausalLM.from_pretrained(
        config.model, dtype=torch.float32, attn_implementation=config.attn_implementation
    )
    model.config.use_cache = False
    if config.gradient_checkpointing:
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # the transformers 5 name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if config.lora:
        model = add_lora(model, config)
    return model


def add_lora(model, config: TrainConfig):
    from peft import LoraConfig, get_peft_model

    targets = config.lora_target_modules
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets[0] if targets == ["all-linear"] else targets,
        task_type="CAUSAL_LM",
    )
    if config.gradient_checkpointing:
        model.enable_input_require_grads()
    return get_peft_model(model, lora)


def load_reference_model(config: TrainConfig):
    """A frozen copy of the starting model, for DPO reference log-probs."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        config.model,
        dtype=torch.bfloat16 if config.bf16 else torch.float32,
        attn_implementation=config.attn_implementation,
    )
    model.requires_grad_(False)
    return model.eval()
