"""Answer verifiers: completion text and ground truth in, a score in [0, 1] out.

    from curate.verifiers import VERIFIERS, verify
    verify("gsm8k", "... so she pays $1,000.", "1000")  # -> 1.0

Names are matched case-insensitively ("MATH", "gsm8k", "ifeval" as in Tülu 3's data), and
open-instruct's `ifeval_old` means `ifeval`.
Each verifier's module (math-verify's sympy, IFEval's NLTK) loads on its first call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Verifier = Callable[[str, str], float]

_MODULES = {
    "gsm8k": ("curate.verifiers.gsm8k", "verify_gsm8k"),
    "math": ("curate.verifiers.math_answer", "verify_math"),
    "ifeval": ("curate.verifiers.ifeval", "verify_ifeval"),
    "code": ("curate.verifiers.code_tests", "verify_code"),
}


def _load(name: str) -> Verifier:
    module, function = _MODULES[name]
    return getattr(importlib.import_module(module), function)


def _lazy(name: str) -> Verifier:
    def call(completion: str, ground_truth: str) -> float:
        return _load(name)(completion, ground_truth)

    call.__name__ = f"verify_{name}"
    call.__doc__ = f"The {name!r} verifier (loads its module on first use)."
    return call


VERIFIERS: dict[str, Verifier] = {name: _lazy(name) for name in _MODULES}
# Other names for the same verifiers in public data: open-instruct calls its verifier for
# the func_name IFEval layout `ifeval_old`; the ifeval verifier reads every layout.
ALIASES = {"ifeval_old": "ifeval"}


def canonical_name(name: str) -> str | None:
    """The verifier a name (any case, or an alias) means, or None when there is none."""
    key = (name or "").strip().lower()
    key = ALIASES.get(key, key)
    return key if key in _MODULES else None


def get_verifier(name: str) -> Verifier:
    """The verifier called `name` (any case, or an alias); ValueError naming the known ones."""
    key = canonical_name(name)
    if key is None:
        raise ValueError(f"unknown verifier {name!r}; known: {sorted(VERIFIERS)}")
    return VERIFIERS[key]


# Verifiers whose ground truth has a structure that can be checked before scoring.
_TRUTH_CHECKS = {"ifeval": ("curate.verifiers.ifeval", "check_ground_truth")}


def truth_problem(name: str, ground_truth: str) -> str | None:
    """What makes `ground_truth` unusable for verifier `name`, or None when it can be scored.

    Readers of rlvr rows call this so a malformed truth is a named bad row when the row is
    read, never a silent reward of 0 later.
    """
    key = canonical_name(name)
    if key is None:
        return f"field 'verifier': unknown verifier {name!r}; known: {sorted(VERIFIERS)}"
    if key in _TRUTH_CHECKS:
        module, function = _TRUTH_CHECKS[key]
        try:
            getattr(importlib.import_module(module), function)(ground_truth)
        except ValueError as exc:
            return f"field 'ground_truth': {exc}"
    return None


def verify(name: str, completion: str, ground_truth: str) -> float:
    """Score `completion` against `ground_truth` with the verifier `name`, in [0, 1]."""
    return float(get_verifier(name)(completion, ground_truth))


_EXPORTS = {
    "CodeLimits": "curate.verifiers.code_tests",
    "extract_code": "curate.verifiers.code_tests",
    "run_tests": "curate.verifiers.code_tests",
    "verify_code": "curate.verifiers.code_tests",
    "last_number": "curate.verifiers.gsm8k",
    "verify_gsm8k": "curate.verifiers.gsm8k",
    "instruction_results": "curate.verifiers.ifeval",
    "parse_ground_truth": "curate.verifiers.ifeval",
    "verify_ifeval": "curate.verifiers.ifeval",
    "extract_answer": "curate.verifiers.math_answer",
    "verify_math": "curate.verifiers.math_answer",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'curate.verifiers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ALIASES",
    "VERIFIERS",
    "Verifier",
    "canonical_name",
    "get_verifier",
    "truth_problem",
    "verify",
    *sorted(_EXPORTS),
]
