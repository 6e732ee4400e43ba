"""IFEval verifier: the share of a prompt's verifiable instructions that a response meets.

The checkers are those of the `if-verifiable` package (Google's IFEval code). Two of them
need NLTK's punkt data, which cannot be downloaded on every machine: when it is missing,
they count with tokenizers that ship inside NLTK itself (an untrained Punkt sentence
splitter and the Treebank-style word tokenizer) and a warning says so once.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import langdetect
import nltk
from if_verifiable.common import evaluate_instructions
from if_verifiable.ifeval import instructions
from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT
from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktSentenceTokenizer

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


def parse_ground_truth(ground_truth: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Instruction ids and kwargs from the public IFEval layout (a JSON object).

    Accepts {"instruction_id_list": [...], "kwargs": [...]} and the one-instruction form
    {"instruction_id": ..., "kwargs": {...}}.
    """
    try:
        data = json.loads(ground_truth)
    except json.JSONDecodeError as exc:
        raise ValueError(f"ifeval ground truth is not JSON: {exc}") from exc
    if isinstance(data, dict) and "instruction_id" in data:
        data = {"instruction_id_list": [data["instruction_id"]], "kwargs": [data.get("kwargs")]}
    if not isinstance(data, dict) or "instruction_id_list" not in data:
        raise ValueError("ifeval ground truth needs 'instruction_id_list' and 'kwargs'")
    ids = list(data["instruction_id_list"])
    kwargs = list(data.get("kwargs") or [{} for _ in ids])
    if len(kwargs) != len(ids):
        raise ValueError(f"ifeval ground truth has {len(ids)} ids but {len(kwargs)} kwargs")
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown IFEval instruction ids: {unknown}")
    return ids, [k or {} for k in kwargs]


def instruction_results(completion: str, ground_truth: str) -> list[bool]:
    """Strict pass/fail of each instruction, in ground-truth order."""
    ids, kwargs = parse_ground_truth(ground_truth)
    results, _ = evaluate_instructions(
        response=completion,
        instruction_id_list=ids,
        kwargs_list=kwargs,
        prompt="",
        instruction_registry=REGISTRY,
    )
    if not results:  # an empty response meets nothing
        return [False] * len(ids)
    return [r.strict_pass for r in results]


def verify_ifeval(completion: str, ground_truth: str) -> float:
    """Share of the instructions met (strict IFEval checking), in [0, 1]."""
    passed = instruction_results(completion, ground_truth)
    return sum(passed) / len(passed) if passed else 0.0
