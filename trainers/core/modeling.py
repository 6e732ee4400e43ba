"""Loading the model and tokenizer, with optional LoRA through peft.

The policy keeps fp32 master weights; under bf16 (`--bf16`, or accelerate's own mixed
precision) accelerate runs its forward under bf16 autocast, which is also what flash
attention needs. The frozen reference loads in bf16 then.

Dropout is switched off in policy and reference unless `disable_dropout` is False: the
model config's dropout probabilities are set to 0 *before* the model is built (modules copy
them at construction), and every `nn.Dropout` is set to p=0 after. The config values changed
for training (dropout, `use_cache`) are returned, so that the saved model keeps the original
ones (`trainers.core.loop.save_final`).
"""

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


def is_dropout_field(name: str, value: object) -> bool:
    """Config fields holding a dropout probability (`attention_dropout`, `hidden_dropout`,
    GPT-2's `attn_pdrop`, ...)."""
    return (
        ("dropout" in name or name.endswith("pdrop"))
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    )


def zero_dropout_config(model_config) -> dict[str, float]:
    """Set the config's dropout probabilities to 0 (sub-configs included, e.g. a
    multimodal model's text config); returns the original non-zero values by dotted name."""
    changed: dict[str, float] = {}

    def visit(cfg, prefix: str) -> None:
        for name, value in list(vars(cfg).items()):
            if hasattr(value, "to_dict") and hasattr(value, "model_type"):  # a sub-config
                visit(value, f"{prefix}{name}.")
            elif is_dropout_field(name, value) and value != 0:
                changed[prefix + name] = value
                setattr(cfg, name, 0.0)

    visit(model_config, "")
    return changed


def zero_dropout_modules(model) -> int:
    """p=0 on every `nn.Dropout` of the model; returns how many had p > 0."""
    count = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout) and module.p > 0:
            module.p = 0.0
            count += 1
    return count


def set_config_values(model_config, values: dict) -> None:
    """Set dotted config names (as `zero_dropout_config` returns them)."""
    for dotted, value in values.items():
        *parents, name = dotted.split(".")
        target = model_config
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, name, value)


def _pretrained(
    name_or_path: str, *, dtype: torch.dtype, attn_implementation: str, disable_dropout: bool
):
    from transformers import AutoConfig, AutoModelForCausalLM

    model_config = AutoConfig.from_pretrained(name_or_path)
    originals = zero_dropout_config(model_config) if disable_dropout else {}
    model = AutoModelForCausalLM.from_pretrained(
        name_or_path, config=model_config, dtype=dtype, attn_implementation=attn_implementation
    )
    if disable_dropout:
        zero_dropout_modules(model)
    return model, originals


def load_model(config: TrainConfig):
    """The causal LM to train: attention backend, dropout off, checkpointing and LoRA
    applied. Returns (model, the config values to restore when saving)."""
    model, originals = _pretrained(
        config.model,
        dtype=torch.float32,
        attn_implementation=config.attn_implementation,
        disable_dropout=config.disable_dropout,
    )
    # The forward passes use_cache=False itself (packed rows need it) and generation asks for
    # the cache explicitly, so the config keeps its value; kept here in case a transformers
    # helper (gradient checkpointing) switches it off.
    originals["use_cache"] = model.config.use_cache
    if config.gradient_checkpointing:
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # the transformers 5 name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if config.lora:
        model = add_lora(model, config)
    return model, originals


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


def load_reference_model(config: TrainConfig, *, bf16: bool | None = None):
    """A frozen copy of the starting model (dropout off as in the policy), in bf16 when the
    run is (`bf16` None: `config.bf16`)."""
    bf16 = config.bf16 if bf16 is None else bf16
    model, _ = _pretrained(
        config.model,
        dtype=torch.bfloat16 if bf16 else torch.float32,
        attn_implementation=config.attn_implementation,
        disable_dropout=config.disable_dropout,
    )
    model.requires_grad_(False)
    return model.eval()
