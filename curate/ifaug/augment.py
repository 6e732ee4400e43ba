"""Verifiable-constraint augmentation: prompts in, IFEval-checkable `rlvr` rows out."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from curate.ifaug.constraints import INSTRUCTION_IDS, Constraint, sample_constraints
from manifests import Accounting, canonical_json, prompt_turns, row_messages, stable_id


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
    try:
        turns = prompt_turns(row_messages(row))
    except ValueError:
        return None
    last = len(turns) - 1
    prompt = turns[last]["content"]
    if not prompt.strip():
        return None
    rng = random.Random(f"{config.seed}:{row['id']}")  # per row: order does not matter
    count = rng.randint(config.min_constraints, config.max_constraints)
    constraints = sample_constraints(rng, prompt, count, config.instruction_ids)
    turns[last] = {"role": "user", "content": constrained_prompt(prompt, constraints)}
    truth = ground_truth(constraints)
    content = {"messages": turns, "ground_truth": truth, "verifier": "ifeval"}
    meta = json.loads(row.get("metadata") or "{}")
    # A check the prompt carried (an rlvr row read as a prompt) is the original's, not this one.
    for key in ("ground_truth", "verifier"):
        if key in meta:
            meta[f"original_{key}"] = meta.pop(key)
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
