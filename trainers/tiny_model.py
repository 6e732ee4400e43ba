"""The one tiny random Llama (with a byte-level BPE tokenizer trained on given texts).

Tests, benchmarks and `train: {model: tiny}` build their models here, so a whole
pipeline runs on a CPU in seconds without a download. It learns nothing useful.
The same seed and shape give the same weights.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

SPECIALS = ("<s>", "</s>", "<pad>")
CHAT_MARKERS = "<|system|>\n<|user|>\n<|assistant|>\n"


def train_tokenizer(
    texts: Iterable[str],
    *,
    vocab_size: int = 1024,
    specials: tuple[str, ...] = SPECIALS,
    unk_token: str | None = None,
    chat_template: bool | str = False,
):
    """A byte-level BPE trained on `texts` (and the chat markers), as a fast HF tokenizer.

    `specials` come first in the vocabulary in their order, and name bos/eos/pad when they
    are the default three. `chat_template`: True gives the built-in Tülu template, a string
    is used as the template, False leaves none.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from trainers.data.chat import ensure_chat_template

    bpe = Tokenizer(models.BPE(unk_token=unk_token))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator([CHAT_MARKERS, *texts], trainer=trainer)
    roles = dict(zip(("bos_token", "eos_token", "pad_token"), SPECIALS, strict=True))
    named = {role: token for role, token in roles.items() if token in specials}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token=unk_token, **named)
    if isinstance(chat_template, str):
        tokenizer.chat_template = chat_template
    elif chat_template:
        ensure_chat_template(tokenizer)
    return tokenizer


def tiny_llama(
    tokenizer,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    intermediate_size: int = 128,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    max_positions: int = 1024,
    **config: Any,
):
    """A random LlamaForCausalLM sized for `tokenizer`; `config` goes to LlamaConfig as is."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    settings = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": intermediate_size,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": max_positions,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "tie_word_embeddings": False,
        **config,
    }
    return LlamaForCausalLM(LlamaConfig(**settings))


def build_tiny_model(
    texts: Iterable[str],
    out_dir: Path,
    *,
    vocab_size: int = 1024,
    chat_template: bool | str = False,
    seed: int = 0,
    **shape: Any,
) -> Path:
    """Train the tokenizer on `texts`, build the model (`shape`: see `tiny_llama`), save
    both to `out_dir` as a local model folder; returns `out_dir`."""
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size, chat_template=chat_template)
    model = tiny_llama(tokenizer, seed=seed, **shape)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
