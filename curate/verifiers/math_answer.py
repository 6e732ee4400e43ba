"""MATH-style verifier: the boxed or final-answer-line answer, compared by math-verify."""

from __future__ import annotations

import multiprocessing
import re
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

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


TIME_LIMIT_S = 5.0


def _score(completion: str, ground_truth: str, timeout: int | None) -> float:
    from math_verify import parse, verify  # sympy: loaded on the first check, not on import

    delimited = "$" in ground_truth or "\\boxed" in ground_truth
    gold_text = ground_truth if delimited else f"${ground_truth}$"
    gold = parse(gold_text, parsing_timeout=timeout)
    if not gold:
        raise ValueError(f"math ground truth does not parse: {ground_truth[:80]!r}")
    answer = parse(extract_answer(completion), parsing_timeout=timeout)
    if not answer:
        return 0.0
    return 1.0 if verify(gold, answer, timeout_seconds=timeout) else 0.0


def _serve(conn: Connection) -> None:
    # The worker's main thread: math-verify's SIGALRM timeouts hold here too.
    while True:
        try:
            completion, ground_truth = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", _score(completion, ground_truth, int(TIME_LIMIT_S))))
        except ValueError as error:
            conn.send(("value-error", str(error)))
        except Exception as error:  # a math-verify failure scores 0, never kills the worker
            conn.send(("error", repr(error)))


class _Worker:
    """One long-lived process that checks answers for non-main threads; killed and
    replaced when a check runs past the time limit (signals work only on a main thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        if self._process is None or not self._process.is_alive():
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe()
            self._process = context.Process(target=_serve, args=(theirs,), daemon=True)
            self._process.start()
            theirs.close()
            self._conn = ours
        assert self._conn is not None
        return self._conn

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        self._process = self._conn = None

    def score(self, completion: str, ground_truth: str, limit_s: float) -> float:
        with self._lock:
            conn = self._start()
            conn.send((completion, ground_truth))
            # The first call also pays for the worker's start and sympy's import.
            if not conn.poll(limit_s + 30.0 * (self._fresh())):
                self._stop()
                return 0.0
            kind, value = conn.recv()
        if kind == "value-error":
            raise ValueError(value)
        return float(value) if kind == "ok" else 0.0

    def _fresh(self) -> bool:
        fresh, self._warm = not getattr(self, "_warm", False), True
        return fresh


_WORKER = _Worker()


def verify_math(completion: str, ground_truth: str) -> float:
    r"""1.0 when the answer is mathematically equal to the reference (\frac{1}{2} == 0.5).

    On the main thread the check runs here under math-verify's signal timeouts; on any
    other thread it runs in a worker process that is killed past `TIME_LIMIT_S`."""
    if threading.current_thread() is threading.main_thread():
        return _score(completion, ground_truth, int(TIME_LIMIT_S))
    return _WORKER.score(completion, ground_truth, TIME_LIMIT_S)
