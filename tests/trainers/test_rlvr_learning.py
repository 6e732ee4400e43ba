"""Learning signal: on a toy verifiable task a tiny random model learns from GRPO alone.

Task: "say the number 7" -> the completion's last number must be 7 (the gsm8k verifier).
A word-level vocabulary of 22 tokens and one-token answers let a random policy hit the
answer now and then (about 1 in 10), which is all GRPO needs to start. With these settings
eight seeds tried here all went from a mean reward near 1 to 6.4-9.3 (of 10) in 40 steps,
and held-out pass@1 rose by 0.45 or more.
"""

import random
import statistics

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from manifests.shards import write_shards
from trainers.core.runlog import read_log
from trainers.rl.config import RLVRConfig
from trainers.rl.summary import rlvr_summary_lines
from trainers.rlvr import run_rlvr
from trainers.tiny_model import tiny_llama

SPECIAL = ["<s>", "</s>", "<pad>", "<|user|>", "<|assistant|>", "<|system|>"]
DIGITS = [str(d) for d in range(10)]
WORDS = ["say", "the", "number", "ok", "so", "is"]


def toy_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIAL + DIGITS + WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="ok"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    tok.add_special_tokens({"additional_special_tokens": SPECIAL[3:]})
    return tok


def toy_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        digit = rng.choice(DIGITS)
        rows.append(
            {
                "id": f"toy{seed}-{i}",
                "source": "toy",
                "skill": "math",
                "messages": [{"role": "user", "content": f"say the number {digit}"}],
                "ground_truth": digit,
                "verifier": "gsm8k",
                "metadata": "{}",
            }
        )
    return rows


@pytest.fixture(scope="module")
def toy_task(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy-rlvr")
    tok = toy_tokenizer()
    tiny_llama(tok, max_positions=64).save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    write_shards(toy_rows(64, seed=0), root / "train", "rlvr")
    write_shards(toy_rows(20, seed=1), root / "eval", "rlvr")
    return root


def test_mean_reward_rises_clearly_within_40_steps(toy_task, tmp_path):
    summary = run_rlvr(
        RLVRConfig(
            data=str(toy_task / "train"),
            model=str(toy_task / "model"),
            output=str(tmp_path),
            eval_data=str(toy_task / "eval"),
            max_length=32,
            max_new_tokens=1,
            num_generations=16,
            batch_size=16,
            micro_batch_size=16,
            learning_rate=1e-2,
            schedule="constant",
            max_steps=40,
            beta=0.0,
            seed=0,
            tensorboard=False,
        )
    )
    rewards = [r["reward/mean"] for r in read_log(tmp_path)]
    assert len(rewards) == 40
    first, last = statistics.fmean(rewards[:8]), statistics.fmean(rewards[-8:])
    assert last >= first + 3.0, (first, last, rewards)
    assert summary["eval_accounting"] == {
        "rows_in": 20,
        "rows_out": 20,
        "removed": {},
        "rejected": 0,
    }
    lines = rlvr_summary_lines(summary)
    assert "eval rows in 20, out 20, removed 0 (none), rejected 0" in lines
    before, after = summary["eval"]["before"], summary["eval"]["after"]
    assert before["rows"] == after["rows"] == 20
    assert after["pass@1"] >= before["pass@1"] + 0.3, (before, after)
    assert after["per_verifier"]["gsm8k"]["pass@1"] == after["pass@1"]
