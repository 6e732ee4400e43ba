"""MATH-style verifier: the boxed or final-answer-line answer, compared by math-verify."""

from __future__ import annotations

import re
import threading

_FINAL_LINE = re.compile(r"final answer\s*(?:is)?\s*[:：]?\s*(.+)", re.IGNORECASE)


def final_answer_line(text: str) -> str | None:
    """What the last 'Final answer: ...' line says (trailing period dropped), or None."""
    lines = [m.group(1).strip().rstrip(".").strip() for m in _FINAL_LINE.finditer(text)]
    return lines[-1] if lines and lines[-1] else None


def extract_answer(completion: str) -> str:
    r"""The text that holds the answer: the completion itself when it has a \boxed{},
    else its last 'Final answer: ...' line (as our solution template asks), else all of it."""
    if "\\boxed" in completion or "\\fbox" in completion:
        return completion
    answer = final_answer_line(completion)
    if answer is not None:
        # Math-verify reads LaTeX inside delimiters; a bare line gets wrapped so it parses.
        return answer if "$" in answer else f"${answer}$"
    return completion


def _timeout() -> int | None:
    # math-verify's timeouts use SIGALRM, which only the main thread may set.
    return 5 if threading.current_thread() is threading.main_thread() else None


def verify_math(completion: str, ground_truth: str) -> float:
    r"""1.0 when the answer is mathematically equal to the reference (\frac{1}{2} == 0.5)."""
    from math_verify import parse, verify  # sympy: loaded on the first check, not on import

    timeout = _timeout()
    delimited = "$" in ground_truth or "\\boxed" in ground_truth
    gold_text = ground_truth if delimited else f"${ground_truth}$"
    gold = parse(gold_text, parsing_timeout=timeout)
    if not gold:
        raise ValueError(f"math ground truth does not parse: {ground_truth[:80]!r}")
    answer = parse(extract_answer(completion), parsing_timeout=timeout)
    if not answer:
        return 0.0
    return 1.0 if verify(gold, answer, timeout_seconds=timeout) else 0.0
