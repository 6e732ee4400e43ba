"""IFEval verifier: the share of a prompt's verifiable instructions that a response meets.

Ground truths are read in every layout in use (see `parse_ground_truth`), detected per
row; `check_ground_truth` validates one at read time.

The checkers are those of the `if-verifiable` package (Google's IFEval code). Two of them
need NLTK's punkt data, which cannot be downloaded on every machine: when it is missing,
they count with tokenizers that ship inside NLTK itself (an untrained Punkt sentence
splitter and the Treebank-style word tokenizer) and a warning says so once.
"""

from __future__ import annotations

import ast
import functools
import json
import logging
from dataclasses import dataclass
from typing import Any

import langdetect
import nltk
from if_verifiable.common import evaluate_instructions
from if_verifiable.ifeval import instructions
from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT
from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktSentenceTokenizer

from curate.verifiers.ifeval_functions import function_call, run_function

log = logging.getLogger(__name__)

# langdetect samples at random: without a fixed seed the response-language check (and so
# a reward) can differ between two calls on the same text.
langdetect.DetectorFactory.seed = 0


@functools.cache
def punkt_available() -> bool:
    """True when NLTK's trained English punkt model is installed."""
    for resource in ("tokenizers/punkt/english.pickle", "tokenizers/punkt_tab/english/"):
        try:
            nltk.data.find(resource)
        except LookupError:
            return False
    return True


@functools.cache
def _warn_fallback() -> None:
    log.warning(
        "NLTK punkt data is not installed: IFEval sentence and word counts use NLTK's "
        "packaged untrained Punkt splitter (install it with nltk.download('punkt') "
        "and nltk.download('punkt_tab') for the official counts)."
    )


def count_sentences(text: str) -> int:
    if punkt_available():
        return len(nltk.sent_tokenize(text))
    _warn_fallback()
    return len(PunktSentenceTokenizer().tokenize(text))


def word_tokens(text: str) -> list[str]:
    if punkt_available():
        return nltk.word_tokenize(text)
    _warn_fallback()
    sentences = PunktSentenceTokenizer().tokenize(text)
    tokenizer = NLTKWordTokenizer()
    return [tok for sentence in sentences for tok in tokenizer.tokenize(sentence)]


class SentenceCountChecker(instructions.NumberOfSentences):
    def check_following(self, value: str) -> bool:
        n = count_sentences(value)
        if self._comparison_relation == "less than":
            return n < self._num_sentences_threshold
        return n >= self._num_sentences_threshold


class CapitalWordChecker(instructions.CapitalWordFrequencyChecker):
    def check_following(self, value: str) -> bool:
        n = sum(1 for word in word_tokens(value) if word.isupper())
        if self._comparison_relation == "less than":
            return n < self._frequency
        return n >= self._frequency


REGISTRY: dict[str, type] = {
    **INSTRUCTION_DICT,
    "length_constraints:number_sentences": SentenceCountChecker,
    "change_case:capital_word_frequency": CapitalWordChecker,
}


@dataclass(frozen=True)
class Constraint:
    """One instruction of a ground truth: an IFEval checker id or a func_name check."""

    layout: str  # "ifeval" (Google's), "open_instruct" (list of id/kwargs lists), "func_name"
    name: str  # IFEval instruction id, or open-instruct function name
    kwargs: dict[str, Any]


LAYOUTS = ("ifeval", "open_instruct", "func_name")


def _decode(ground_truth: Any) -> Any:
    """JSON, or a Python literal (some exports write dicts with single quotes)."""
    if not isinstance(ground_truth, str):
        return ground_truth
    try:
        return json.loads(ground_truth)
    except json.JSONDecodeError as exc:
        try:
            return ast.literal_eval(ground_truth)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ValueError(
                f"ifeval ground truth is not JSON (nor a Python literal): {exc}"
            ) from None


def _checker(instruction_id: str) -> type:
    checker = REGISTRY.get(instruction_id) or _ifbench_registry().get(instruction_id)
    if checker is None:
        raise ValueError(f"unknown IFEval instruction id {instruction_id!r}")
    return checker


@functools.cache
def _ifbench_registry() -> dict[str, type]:
    """IFBench's checkers (open-instruct's newer training constraints), loaded on demand:
    importing them asks NLTK for data it may try to download."""
    from if_verifiable.ifbench.instructions_registry import INSTRUCTION_DICT as IFBENCH

    return dict(IFBENCH)


def _ifeval_constraints(ids: Any, kwargs: Any, layout: str) -> list[Constraint]:
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ValueError("ifeval ground truth: instruction ids must be a non-empty list of strings")
    if kwargs is None:
        kwargs = [{} for _ in ids]
    elif isinstance(kwargs, dict):
        kwargs = [kwargs]
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        got = len(kwargs) if isinstance(kwargs, list) else type(kwargs).__name__
        raise ValueError(f"ifeval ground truth has {len(ids)} ids but {got} kwargs")
    out = []
    for instruction_id, given in zip(ids, kwargs, strict=True):
        if given is not None and not isinstance(given, dict):
            raise ValueError(f"ifeval ground truth: kwargs of {instruction_id!r} is not an object")
        # Columnar exports (the hub's google/IFEval) pad every kwargs object with nulls.
        args = {k: v for k, v in (given or {}).items() if v is not None}
        needed = _checker(instruction_id)(instruction_id).get_instruction_args_keys()
        # IFEval draws a random value for a missing argument: a reward would be a coin toss.
        missing = [k for k in needed if k not in args]
        if missing:
            raise ValueError(f"ifeval ground truth: {instruction_id!r} lacks {missing}")
        unexpected = sorted(set(args) - set(needed))
        if unexpected:
            raise ValueError(f"ifeval ground truth: {instruction_id!r} takes no {unexpected}")
        out.append(Constraint(layout, instruction_id, args))
    return out


def _func_constraint(truth: dict) -> Constraint:
    name, args = function_call(truth)
    return Constraint("func_name", name, args)


def parse_ground_truth(ground_truth: Any) -> list[Constraint]:
    """The constraints of an IFEval ground truth, in order, whatever its layout.

    Layouts (detected per value):
    - Google IFEval: `{"instruction_id_list": [...], "kwargs": [...]}` (and the
      one-instruction form `{"instruction_id": "...", "kwargs": {...}}`);
    - open-instruct: a list of `{"instruction_id": [...], "kwargs": [...]}` objects;
    - open-instruct's older `func_name` layout (`allenai/RLVR-IFeval`): one object, or a
      list of them, naming a check function and its arguments.
    ValueError names what no layout could read.
    """
    data = _decode(ground_truth)
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ValueError("ifeval ground truth is an empty list")
    constraints: list[Constraint] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError(f"ifeval ground truth: expected an object, got {type(item).__name__}")
        if "func_name" in item:
            constraints.append(_func_constraint(item))
        elif "instruction_id_list" in item:
            constraints += _ifeval_constraints(
                item["instruction_id_list"], item.get("kwargs"), "ifeval"
            )
        elif "instruction_id" in item:
            layout = "open_instruct" if isinstance(data, list) else "ifeval"
            constraints += _ifeval_constraints(item["instruction_id"], item.get("kwargs"), layout)
        else:
            raise ValueError(
                "ifeval ground truth: no known layout (expected 'instruction_id_list' + "
                "'kwargs', a list of {'instruction_id', 'kwargs'}, or 'func_name')"
            )
    return constraints


def ground_truth_layout(ground_truth: Any) -> str:
    """Which layout a ground truth is written in (ValueError when none)."""
    return parse_ground_truth(ground_truth)[0].layout


def check_instruction(text: str, instruction_id: str, kwargs: dict[str, Any]) -> bool:
    """Strict IFEval check of one instruction."""
    results, _ = evaluate_instructions(
        response=text,
        instruction_id_list=[instruction_id],
        kwargs_list=[kwargs],
        prompt=kwargs.get("prompt_to_repeat", ""),
        instruction_registry={instruction_id: _checker(instruction_id)},
    )
    return bool(results) and results[0].strict_pass


def answer_part(completion: str) -> str:
    """What the checks read: the text after a reasoning model's `</think>`, without
    `<answer>` tags (as open-instruct's verifiers read completions)."""
    answer = completion.rsplit("</think>", 1)[-1]
    return answer.replace("<answer>", "").replace("</answer>", "").strip()


def instruction_results(completion: str, ground_truth: Any) -> list[bool]:
    """Strict pass/fail of each instruction, in ground-truth order."""
    if "</think>" in completion or "<answer>" in completion:
        completion = answer_part(completion)
    out = []
    for c in parse_ground_truth(ground_truth):
        if not completion.strip():  # an empty response meets nothing
            out.append(False)
        elif c.layout == "func_name":
            out.append(run_function(completion, c.name, c.kwargs))
        else:
            out.append(check_instruction(completion, c.name, c.kwargs))
    return out


def verify_ifeval(completion: str, ground_truth: Any) -> float:
    """Share of the instructions met (strict checking), in [0, 1]. Rewards are
    all-or-nothing unless partial credit is asked for (the RLVR trainer's option)."""
    passed = instruction_results(completion, ground_truth)
    return sum(passed) / len(passed) if passed else 0.0


def check_ground_truth(ground_truth: Any) -> None:
    """Raise ValueError when the ground truth cannot be scored (read-time validation)."""
    parse_ground_truth(ground_truth)
