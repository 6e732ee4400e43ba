"""Verifiable-constraint augmentation: prompts in, IFEval-checkable `rlvr` rows out."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from curate.ifaug.constraints import INSTRUCTION_IDS, Constraint, sample_constraints
from manifests import Accounting, canonical_json, row_messages, stable_id


@dataclass(frozen=True)
class AugmentConfig:
    seed: int = 0
    min_constraints: int = 1
    max_constraints: int = 3
    instruction_ids: tuple[str, ...] = INSTRUCTION_IDS
    skill: str = "precise_if"

    def __post_init__(self) -> None:
        if not 1 <= self.min_constraints <= self.max_constraints:
            raise ValueError("need 1 <= min_constraints <= max_constraints")
        unknown = sorted(set(self.instruction_ids) - set(INSTRUCTION_IDS))
        if unknown:
            raise ValueError(f"unknown instruction ids: {unknown}")


def prompt_turns(row: dict) -> list[dict]:
    """The turns before the first assistant reply: the prompt an augmented row asks."""
    turns = []
    for message in row_messages(row):
        if message["role"] == "assistant":
            break
        turns.append(dict(message))
    return turns


def ground_truth(constraints: list[Constraint]) -> str:
    """IFEval's public layout: instruction ids and their kwargs, in the same order."""
    return canonical_json(
        {
            "instruction_id_list": [c.instruction_id for c in constraints],
            "kwargs": [c.kwargs for c in constraints],
        }
    )


def constrained_prompt(prompt: str, constraints: list[Constraint]) -> str:
    return prompt.rstrip() + "\n\n" + "\n".join(c.description for c in constraints)


def augment_row(row: dict, config: AugmentConfig) -> dict | None:
    """An rlvr row asking `row`'s prompt with 1-3 constraints; None when it has no prompt."""
    turns = prompt_turns(row)
    users = [i for i, m in enumerate(turns) if m["role"] == "user"]
    if not users or not turns[users[-1]]["content"].strip():
        return None
    last = users[-1]
    prompt = turns[last]["content"]
    rng = random.Random(f"{config.seed}:{row['id']}")  # per row: order does not matter
    count = rng.randint(config.min_constraints, config.max_constraints)
    constraints = sample_constraints(rng, prompt, count, config.instruction_ids)
    turns[last] = {"role": "user", "content": constrained_prompt(prompt, constraints)}
    truth = ground_truth(constraints)
    content = {"messages": turns, "ground_truth": truth, "verifier": "ifeval"}
    meta = json.loads(row.get("metadata") or "{}")
    meta.update(
        augmented_from=row["id"],
        original_skill=row.get("skill"),
        constraint_ids=[c.instruction_id for c in constraints],
        augment_seed=config.seed,
    )
    return {
        "id": stable_id(row["source"], {**content, "from": row["id"]}),
        "source": row["source"],
        "skill": config.skill,
        **content,
        "metadata": canonical_json(meta),
    }


def augment_rows(
    rows: Iterable[dict], config: AugmentConfig, accounting: Accounting
) -> Iterator[dict]:
    """Augment every row; rows without a user prompt are counted as removed ('no_prompt')."""
    for row in rows:
        accounting.add_in()
        out = augment_row(row, config)
        if out is None:
            accounting.remove("no_prompt")
            continue
        accounting.add_out()
        yield out
