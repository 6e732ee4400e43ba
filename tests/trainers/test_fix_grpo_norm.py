"""GRPO normalization as TRL's default (dapo) loss: the summed per-token loss over all
completion tokens of the step, zero-signal groups included, and every group keeps its KL
term. Checked by linearity: a step on prompts {signal, zero-signal} must equal the two
single-prompt steps added with their token counts as weights."""

from __future__ import annotations

import json

import pytest
import torch

from trainers.core.loop import prepare_optimization, start_run
from trainers.data.prompts import Prompt
from trainers.rl.config import RLVRConfig
from trainers.rl.generation import Completion
from trainers.rlvr import GRPOStep

LOWERCASE = json.dumps({"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]})
# Lower case is correct: the first group carries signal, the second is all correct.
GROUPS = {
    "the cat": ["the cat sat on a mat", "The Cat"],
    "two dogs": ["two dogs ran past seven red boxes", "what is the sum of three plus four"],
}


class Fixed:
    name = "fixed"

    def __init__(self, by_prompt):
        self.by_prompt = by_prompt

    def sync_weights(self) -> None:
        pass

    def generate(self, prompts, n, sampling):
        return [self.by_prompt[tuple(p)][:n] for p in prompts]


def one_step(model_dir, tmp_path, words: list[str], *, beta: float, reference=None):
    cfg = RLVRConfig(
        data="unused",
        model=str(model_dir),
        output=str(tmp_path),
        max_length=96,
        max_new_tokens=12,
        num_generations=2,
        batch_size=len(words),
        micro_batch_size=len(words),
        learning_rate=1e-2,
        beta=beta,
        tensorboard=False,
        seed=3,
    )
    run = start_run(cfg)
    prepare_optimization(run, 1)
    tok = run.tokenizer
    prompts, by_prompt, tokens = [], {}, 0
    for i, w in enumerate(words):
        ids = tok(f"<|user|>\n{w}\n<|assistant|>\n")["input_ids"]
        prompts.append(Prompt(str(i), ids, "ifeval", LOWERCASE))
        by_prompt[tuple(ids)] = [
            Completion(tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id], t, True)
            for t in GROUPS[w]
        ]
        tokens += sum(len(c.token_ids) for c in by_prompt[tuple(ids)])
    step = GRPOStep(run, prompts, Fixed(by_prompt), reference)
    metrics = step([list(range(len(words)))])
    grads = {n: p.grad.clone() for n, p in run.model.named_parameters() if p.grad is not None}
    return metrics, grads, tokens


def test_zero_signal_tokens_count_in_the_normalizer_without_kl(model_dir, tmp_path):
    both, grads_both, n_both = one_step(
        model_dir, tmp_path / "a", ["the cat", "two dogs"], beta=0.0
    )
    alone, grads_alone, n_alone = one_step(model_dir, tmp_path / "b", ["the cat"], beta=0.0)
    assert both["zero_signal_groups"] == 1
    assert both["loss_tokens"] == n_both > n_alone == alone["loss_tokens"]
    # The zero-signal group adds no gradient but dilutes the step by its tokens.
    assert both["loss"] * n_both == pytest.approx(alone["loss"] * n_alone, abs=1e-6)
    for name, grad in grads_alone.items():
        torch.testing.assert_close(grads_both[name] * n_both, grad * n_alone, atol=1e-6, rtol=1e-4)


def test_a_zero_signal_only_step_still_normalizes_by_its_tokens(model_dir, tmp_path):
    metrics, grads, tokens = one_step(model_dir, tmp_path, ["two dogs"], beta=0.0)
    assert metrics["loss_tokens"] == tokens > 0
    assert all(float(g.abs().max()) == 0.0 for g in grads.values())  # joined, zero gradient


def test_every_group_keeps_its_kl_term(model_dir, tmp_path, new_model):
    reference = new_model(seed=1)  # differs from the policy, so k3 and its gradient are not 0
    both, grads_both, n_both = one_step(
        model_dir, tmp_path / "a", ["the cat", "two dogs"], beta=0.5, reference=reference
    )
    sig, grads_sig, n_sig = one_step(
        model_dir, tmp_path / "b", ["the cat"], beta=0.5, reference=reference
    )
    zero, grads_zero, n_zero = one_step(
        model_dir, tmp_path / "c", ["two dogs"], beta=0.5, reference=reference
    )
    assert n_both == n_sig + n_zero and both["loss_tokens"] == n_both
    # The zero-signal group alone trains through its KL term only.
    assert zero["kl"] > 0 and zero["loss"] == pytest.approx(0.5 * zero["kl"], rel=1e-5)
    assert any(float(g.abs().max()) > 0 for g in grads_zero.values())
    assert both["kl"] * n_both == pytest.approx(sig["kl"] * n_sig + zero["kl"] * n_zero, rel=1e-5)
    for name, grad in grads_both.items():
        torch.testing.assert_close(
            grad * n_both, grads_sig[name] * n_sig + grads_zero[name] * n_zero, atol=1e-5, rtol=1e-4
        )
