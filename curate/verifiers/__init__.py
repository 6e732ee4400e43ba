"""Answer verifiers: completion text and ground truth in, a score in [0, 1] out.

    from curate.verifiers import VERIFIERS, verify
    verify("gsm8k", "... so she pays $1,000.", "1000")  # -> 1.0

Names are matched case-insensitively ("MATH", "gsm8k", "ifeval" as in Tülu 3's data).
"""

from __future__ import annotations

from collections.abc import Callable

from curate.verifiers.code_tests import CodeLimits, extract_code, run_tests, verify_code
from curate.verifiers.gsm8k import last_number, verify_gsm8k
from curate.verifiers.ifeval import instruction_results, parse_ground_truth, verify_ifeval
from curate.verifiers.math_answer import extract_answer, verify_math

Verifier = Callable[[str, str], float]

VERIFIERS: dict[str, Verifier] = {
    "gsm8k": verify_gsm8k,
    "math": verify_math,
    "ifeval": verify_ifeval,
    "code": verify_code,
}


def get_verifier(name: str) -> Verifier:
    """The verifier called `name` (any case); ValueError naming the known ones otherwise."""
    try:
        return VERIFIERS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown verifier {name!r}; known: {sorted(VERIFIERS)}") from None


def verify(name: str, completion: str, ground_truth: str) -> float:
    """Score `completion` against `ground_truth` with the verifier `name`, in [0, 1]."""
    return float(get_verifier(name)(completion, ground_truth))


__all__ = [
    "VERIFIERS",
    "CodeLimits",
    "Verifier",
    "extract_answer",
    "extract_code",
    "get_verifier",
    "instruction_results",
    "last_number",
    "parse_ground_truth",
    "run_tests",
    "verify",
    "verify_code",
    "verify_gsm8k",
    "verify_ifeval",
    "verify_math",
]
