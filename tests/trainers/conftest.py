"""Shared fixtures: a BPE tokenizer trained here and a tiny random Llama saved to disk."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from trainers.tiny_model import CHAT_MARKERS, tiny_llama, train_tokenizer

TEXT = (
    "the cat sat on a mat while two dogs ran past seven red boxes and one blue kite "
    "what is sum of three plus four answer equals please write poem about sea sun"
)
WORDS = TEXT.split(" ")

# Tiny models gain nothing from threads, and on a shared 2-core machine extra threads spin.
torch.set_num_threads(1)


def words(rng: random.Random, low: int, high: int, pool: list[str] = WORDS) -> str:
    return " ".join(rng.choices(pool, k=rng.randint(low, high)))


def make_rows(n: int, seed: int = 0, turns: int = 1) -> list[dict]:
    """SFT rows of varied length with deterministic content."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        messages = []
        if i % 3 == 0:
            messages.append({"role": "system", "content": "be brief"})
        for _ in range(turns):
            messages.append({"role": "user", "content": words(rng, 3, 12)})
            messages.append({"role": "assistant", "content": words(rng, 2, 10)})
        rows.append(
            {
                "id": f"r{i}",
                "source": "test",
                "skill": "chat",
                "messages": messages,
                "metadata": "{}",
            }
        )
    return rows


def make_pairs(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        prompt = [{"role": "user", "content": words(rng, 3, 10)}]
        good = words(rng, 2, 8, WORDS[:10])
        bad = words(rng, 2, 8, WORDS[10:])
        rows.append(
            {
                "id": f"p{i}",
                "source": "test",
                "skill": "chat",
                "chosen": [*prompt, {"role": "assistant", "content": good}],
                "rejected": [*prompt, {"role": "assistant", "content": bad}],
                "metadata": "{}",
            }
        )
    return rows


def build_tokenizer() -> PreTrainedTokenizerFast:
    # Three more chat-marker lines beside the builder's own: the corpus these tests were tuned on.
    return train_tokenizer([" ".join(WORDS)] * 4 + [CHAT_MARKERS] * 3, vocab_size=400)


def build_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    return tiny_llama(tokenizer, seed=seed, max_positions=512).eval()


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    return build_tokenizer()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, tokenizer) -> Path:
    """A tiny random Llama and its tokenizer saved as a local model folder."""
    path = tmp_path_factory.mktemp("tiny-llama")
    build_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def sft_mix(tmp_path_factory) -> Path:
    """20 single-turn SFT rows as a shard folder."""
    from manifests.shards import write_shards

    path = tmp_path_factory.mktemp("sft-mix")
    write_shards(make_rows(20, seed=1), path, "sft", max_rows=8)
    return path


@pytest.fixture(scope="session")
def pref_mix(tmp_path_factory) -> Path:
    from manifests.shards import write_shards

    path = tmp_path_factory.mktemp("pref-mix")
    write_shards(make_pairs(16, seed=2), path, "preference")
    return path


@pytest.fixture(scope="session")
def new_model(tokenizer):
    """Builds a fresh tiny random Llama (same seed, same weights) for the test tokenizer."""
    return lambda seed=0: build_model(tokenizer, seed)


@pytest.fixture(scope="session")
def rows_factory():
    return make_rows


@pytest.fixture(scope="session")
def pairs_factory():
    return make_pairs
