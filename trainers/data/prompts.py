"""RLVR rows -> tokenized prompts with their verifier and ground truth; held-out split."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from curate.verifiers import truth_problem
from manifests import Accounting, RowGate
from trainers.data.chat import render
from trainers.rl.rewards import known_verifier


@dataclass(frozen=True)
class Prompt:
    id: str
    input_ids: list[int]
    verifier: str  # canonical (lower-case) name
    ground_truth: str


def _removal_reason(messages: list[dict], ids: list[int], max_prompt_tokens: int) -> str | None:
    if not messages or messages[-1]["role"] != "user":
        return "last_turn_not_user"
    if len(ids) > max_prompt_tokens:
        return "prompt_too_long"
    return None


def tokenize_prompts(
    rows: Iterable[dict],
    tokenizer,
    max_prompt_tokens: int,
    accounting: Accounting,
    *,
    source: str,
    gate: RowGate,
) -> list[Prompt]:
    """Prompt ids end with the template's generation prompt (the assistant header).

    A row naming a verifier that does not exist, or a ground truth its verifier cannot
    read (e.g. an IFEval truth in no known layout), is a bad row (error, or rejected with
    `on_bad_row="skip"`); prompts that cannot be used are removed with a reason.
    """
    prompts = []
    for row in rows:
        index = accounting.rows_in - 1  # read_mix counts each row in before yielding it
        verifier = known_verifier(row["verifier"])
        problem = truth_problem(row["verifier"], str(row["ground_truth"]))
        if problem is not None:
            gate.reject(source, index, problem, row)
            continue
        text = render(tokenizer, row["messages"], add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        reason = _removal_reason(row["messages"], ids, max_prompt_tokens)
        if reason:
            accounting.remove(reason)
            continue
        accounting.add_out()
        prompts.append(Prompt(row["id"], ids, verifier, str(row["ground_truth"])))
    return prompts


def hold_out(prompts: list[Prompt], size: int, seed: int) -> tuple[list[Prompt], list[Prompt]]:
    """(train, held-out): `size` prompts chosen by a seeded permutation, order kept."""
    if size >= len(prompts):
        raise ValueError(f"eval_size {size} leaves no training prompts (have {len(prompts)})")
    if size == 0:
        return prompts, []
    order = torch.randperm(len(prompts), generator=torch.Generator().manual_seed(seed)).tolist()
    held = set(order[:size])
    train = [p for i, p in enumerate(prompts) if i not in held]
    return train, [p for i, p in enumerate(prompts) if i in held]
