"""Reading answers out of solutions and agreeing on a ground truth across samples."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from curate.verifiers import run_tests, verify
from curate.verifiers.gsm8k import marked_number
from curate.verifiers.math_answer import final_answer_line

_PY_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


def answer_of(verifier: str, text: str) -> str | None:
    """The answer a solution commits to, as a ground-truth string; None if it has none."""
    if verifier == "gsm8k":
        number = marked_number(text)
        if number is None:
            return None  # the template asks for a '####' line; no guessing
        return format(number.normalize(), "f")  # 1,000.50 -> 1000.5; 1E+3 -> 1000
    if verifier == "math":
        line = final_answer_line(text)
        if line is not None:
            return line.strip("$ ") or None
        boxed = text.rfind("\\boxed{")
        return text[boxed:].split("\n", 1)[0] if boxed >= 0 else None
    raise ValueError(f"no answer extraction for verifier {verifier!r}")


def code_parts(text: str) -> tuple[str, list[str]] | None:
    """(solution, assert tests) from a code answer: the first block, then the last one's
    assert lines. None when either is missing."""
    blocks = _PY_BLOCK.findall(text)
    if len(blocks) < 2:
        return None
    tests = [line.strip() for line in blocks[-1].splitlines() if line.strip().startswith("assert")]
    return (blocks[0], tests) if tests else None


@dataclass(frozen=True)
class Agreement:
    ground_truth: str | None  # None: no answer reached agreement
    chosen: int | None  # index of the sample to keep as the SFT answer
    share: float  # share of samples that agree with the ground truth
    reason: str | None = None  # why there is no ground truth


def agree(verifier: str, texts: list[str], min_share: float) -> Agreement:
    """Majority answer among samples, answers grouped by the verifier's own equivalence."""
    if verifier == "code":
        return _agree_code(texts)
    clusters: list[tuple[str, list[int]]] = []
    for i, text in enumerate(texts):
        answer = answer_of(verifier, text)
        if answer is None:
            continue
        for reference, members in clusters:
            if verify(verifier, text, reference) == 1.0:
                members.append(i)
                break
        else:
            clusters.append((answer, [i]))
    if not clusters:
        return Agreement(None, None, 0.0, "no_answer")
    reference, members = max(clusters, key=lambda c: len(c[1]))  # first of the largest
    share = len(members) / len(texts)
    if share < min_share:
        return Agreement(None, None, share, "low_agreement")
    return Agreement(reference, members[0], share)


def _agree_code(texts: list[str]) -> Agreement:
    """The first sample whose solution passes its own tests gives the tests as truth."""
    found_any = False
    for i, text in enumerate(texts):
        parts = code_parts(text)
        if parts is None:
            continue
        found_any = True
        solution, tests = parts
        if all(run_tests(solution, tests)):
            return Agreement(json.dumps(tests), i, 1.0 / len(texts))
    return Agreement(None, None, 0.0, "failed_verification" if found_any else "no_answer")
