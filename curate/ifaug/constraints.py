"""The verifiable constraints: IFEval's instruction types, their argument samplers and
their conflicts. Descriptions come from the IFEval checkers themselves (if-verifiable), so
the words a prompt shows and the check a verifier runs never drift apart.
"""

from __future__ import annotations

import copy
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from if_verifiable.ifeval import instructions_registry, instructions_util

from curate.verifiers.ifeval import REGISTRY

RELATIONS = ("less than", "at least")
WORDS = tuple(instructions_util.WORD_LIST)
LANGUAGES = tuple(sorted(instructions_util.LANGUAGE_CODES))
ENDINGS = ("Any other questions?", "Is there anything else I can help with?")

Sampler = Callable[[random.Random, str], dict[str, Any]]


def _relation_count(rng: random.Random, low: int, high: int) -> tuple[str, int]:
    relation = rng.choice(RELATIONS)
    # "less than 1" cannot be met; start a strict upper bound at 2.
    return relation, rng.randint(max(low, 2) if relation == "less than" else low, high)


def _sentences(rng: random.Random, _: str) -> dict[str, Any]:
    relation, n = _relation_count(rng, 1, 20)
    return {"num_sentences": n, "relation": relation}


def _words(rng: random.Random, _: str) -> dict[str, Any]:
    relation, n = _relation_count(rng, 50, 500)
    return {"num_words": n, "relation": relation}


def _keyword_frequency(rng: random.Random, _: str) -> dict[str, Any]:
    relation, n = _relation_count(rng, 1, 3)
    return {"keyword": rng.choice(WORDS), "frequency": n, "relation": relation}


def _letter_frequency(rng: random.Random, _: str) -> dict[str, Any]:
    relation, n = _relation_count(rng, 1, 10)
    return {
        "letter": rng.choice(string.ascii_lowercase),
        "let_frequency": n,
        "let_relation": relation,
    }


def _capital_words(rng: random.Random, _: str) -> dict[str, Any]:
    relation, n = _relation_count(rng, 1, 20)
    return {"capital_frequency": n, "capital_relation": relation}


def _nth_paragraph(rng: random.Random, _: str) -> dict[str, Any]:
    paragraphs = rng.randint(2, 5)
    return {
        "num_paragraphs": paragraphs,
        "nth_paragraph": rng.randint(1, paragraphs),
        "first_word": rng.choice(WORDS),
    }


def _fixed(**kwargs: Any) -> Sampler:
    return lambda rng, prompt: dict(kwargs)


SAMPLERS: dict[str, Sampler] = {
    "keywords:existence": lambda rng, _: {"keywords": rng.sample(WORDS, 2)},
    "keywords:frequency": _keyword_frequency,
    "keywords:forbidden_words": lambda rng, _: {"forbidden_words": rng.sample(WORDS, 3)},
    "keywords:letter_frequency": _letter_frequency,
    "language:response_language": lambda rng, _: {"language": rng.choice(LANGUAGES)},
    "length_constraints:number_sentences": _sentences,
    "length_constraints:number_paragraphs": lambda rng, _: {"num_paragraphs": rng.randint(2, 5)},
    "length_constraints:number_words": _words,
    "length_constraints:nth_paragraph_first_word": _nth_paragraph,
    "detectable_content:number_placeholders": lambda rng, _: {
        "num_placeholders": rng.randint(1, 4)
    },
    "detectable_content:postscript": lambda rng, _: {
        "postscript_marker": rng.choice(("P.S.", "P.P.S"))
    },
    "detectable_format:number_bullet_lists": lambda rng, _: {"num_bullets": rng.randint(2, 6)},
    "detectable_format:constrained_response": _fixed(),
    "detectable_format:number_highlighted_sections": lambda rng, _: {
        "num_highlights": rng.randint(1, 4)
    },
    "detectable_format:multiple_sections": lambda rng, _: {
        "section_spliter": rng.choice(("Section", "SECTION")),
        "num_sections": rng.randint(2, 5),
    },
    "detectable_format:json_format": _fixed(),
    "detectable_format:title": _fixed(),
    "combination:two_responses": _fixed(),
    "combination:repeat_prompt": lambda rng, prompt: {"prompt_to_repeat": prompt},
    "startend:end_checker": lambda rng, _: {"end_phrase": rng.choice(ENDINGS)},
    "startend:quotation": _fixed(),
    "change_case:capital_word_frequency": _capital_words,
    "change_case:english_capital": _fixed(),
    "change_case:english_lowercase": _fixed(),
    "punctuation:no_comma": _fixed(),
}

INSTRUCTION_IDS: tuple[str, ...] = tuple(SAMPLERS)


def _symmetric_conflicts() -> dict[str, frozenset[str]]:
    # IFEval's own conflict table, made symmetric (A conflicts with B => B with A).
    table = instructions_registry.conflict_make(
        copy.deepcopy(instructions_registry.INSTRUCTION_CONFLICTS)
    )
    return {key: frozenset(value) for key, value in table.items()}


CONFLICTS: dict[str, frozenset[str]] = _symmetric_conflicts()


@dataclass(frozen=True)
class Constraint:
    instruction_id: str
    kwargs: dict[str, Any]
    description: str


def describe(instruction_id: str, kwargs: dict[str, Any]) -> str:
    """The instruction's wording, as IFEval's checker builds it from these arguments."""
    checker = REGISTRY[instruction_id](instruction_id)
    return checker.build_description(**kwargs)


def compatible(chosen: list[str], candidate: str) -> bool:
    return all(candidate not in CONFLICTS.get(c, {c}) for c in chosen) and all(
        c not in CONFLICTS.get(candidate, {candidate}) for c in chosen
    )


def sample_constraints(
    rng: random.Random,
    prompt: str,
    count: int,
    allowed: tuple[str, ...] = INSTRUCTION_IDS,
) -> list[Constraint]:
    """`count` mutually compatible constraints (fewer if the allowed types run out)."""
    chosen: list[str] = []
    pool = list(allowed)
    while len(chosen) < count:
        options = [i for i in pool if compatible(chosen, i)]
        if not options:
            break
        chosen.append(rng.choice(options))
    out = []
    for instruction_id in chosen:
        kwargs = SAMPLERS[instruction_id](rng, prompt)
        out.append(Constraint(instruction_id, kwargs, describe(instruction_id, kwargs)))
    return out
