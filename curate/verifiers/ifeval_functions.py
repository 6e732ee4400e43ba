"""The checks of open-instruct's older IFEval layout, one per `func_name`.

`allenai/RLVR-IFeval` (Tülu 3's IF prompts) stores one constraint per row as a JSON object
naming a check function and its arguments, every possible argument present and the unused
ones null: `{"func_name": "validate_word_constraint", "N": 50, "quantifier": "at least",
"keyword_list": null, ...}`. Each function below decides what the one of that name in
open-instruct decides (its docstring gives the rule), so rewards match the ones Tülu 3 was
trained on. Four have an if-verifiable checker with the same decision and use it; the
rest are written here, since IFEval's own checkers differ from these in small ways (case,
exact against at-least counts, stripping).

Each entry declares its argument types, so a malformed truth is caught when the row is
read, not scored 0 at training time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

QUANTIFIERS = ("at least", "around", "at most")


def _quantified(actual: int, n: int, quantifier: str, tolerance: int) -> bool:
    if quantifier == "at least":
        return actual >= n
    if quantifier == "at most":
        return actual <= n
    return abs(actual - n) <= tolerance  # "around"


def _ten_percent(n: int) -> int:
    return max(round(n * 0.1), 1)


def verify_keywords(text: str, keyword_list: list[str]) -> bool:
    """Every keyword appears, as a case-insensitive substring."""
    lowered = text.lower()
    return all(k.lower() in lowered for k in keyword_list)


def verify_keyword_frequency(text: str, word: str, N: int) -> bool:
    """The word appears exactly N times as a whole word, ignoring case."""
    words = re.findall(r"\b\w+\b", text.lower())
    return words.count(word.lower()) == N


def validate_forbidden_words(text: str, forbidden_words: list[str]) -> bool:
    """No forbidden word appears, as a case-insensitive substring."""
    lowered = text.lower()
    return not any(w.lower() in lowered for w in forbidden_words)


def verify_letter_frequency(text: str, letter: str, N: int) -> bool:
    """The letter (case-sensitive) appears exactly N times."""
    return text.count(letter) == N


def verify_paragraph_count(text: str, N: int) -> bool:
    """Exactly N non-empty paragraphs, separated by `* * *` lines."""
    cleaned = "\n".join(line.strip() for line in text.splitlines()).strip()
    parts = cleaned.split("* * *")
    return all(p.strip() for p in parts) and len(parts) == N


def validate_word_constraint(text: str, N: int, quantifier: str) -> bool:
    """Whitespace-separated words: at least / at most N, or around N (within 10%, min 1)."""
    return _quantified(len(text.split()), N, quantifier, _ten_percent(N))


_SENTENCE_END = re.compile(r"(?<!\w\.\w.)(?<![A-Z][a-z]\.)(?<=\.|\?|!)\s")


def verify_sentence_constraint(text: str, N: int, quantifier: str) -> bool:
    """Sentences (split after . ? ! and a space, not after abbreviations): at least /
    at most N, or around N (within 1)."""
    return _quantified(len(_SENTENCE_END.split(text)), N, quantifier, 1)


def validate_paragraphs(text: str, N: int, first_word: str, i: int) -> bool:
    """Exactly N paragraphs split on blank lines, and the i-th (from 1) starts with the word."""
    paragraphs = text.split("\n\n")
    if len(paragraphs) != N or not 1 <= i <= N:
        return False
    return paragraphs[i - 1].strip().startswith(first_word)


def verify_postscript(text: str, postscript_marker: str) -> bool:
    """The marker appears and something follows it."""
    at = text.find(postscript_marker)
    return at >= 0 and len(text[at:].strip()) > len(postscript_marker)


def verify_bullet_points(text: str, N: int) -> bool:
    """Exactly N lines start with `*` or `-` (after indentation)."""
    return sum(line.strip().startswith(("*", "-")) for line in text.split("\n")) == N


def validate_title(text: str) -> bool:
    """A title in double angular brackets, `<<like this>>`."""
    return re.search(r"<<(.*?)>>", text) is not None


def validate_choice(text: str, options: list[str]) -> bool:
    """One of the options appears (as a substring)."""
    return any(option in text for option in options)


def validate_highlighted_sections(text: str, N: int) -> bool:
    """At least N `*highlighted*` spans."""
    return len(re.findall(r"\*(.*?)\*", text)) >= N


def validate_json_format(text: str) -> bool:
    """The whole response parses as JSON."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def validate_repeat_prompt(text: str, original_prompt: str) -> bool:
    """The response starts with the request, unchanged."""
    return text.startswith(original_prompt)


def validate_two_responses(text: str) -> bool:
    """Two different responses, separated by exactly one `******`."""
    if text.count("******") != 1:
        return False
    first, second = (part.strip() for part in text.split("******"))
    return first != second


def validate_uppercase(text: str) -> bool:
    """No lower-case letter."""
    return text == text.upper()


def validate_lowercase(text: str) -> bool:
    """No capital letter."""
    return text == text.lower()


def validate_frequency_capital_words(text: str, N: int, quantifier: str) -> bool:
    """All-capital ASCII words: at least / at most N, or around N (within 10%, min 1)."""
    return _quantified(len(re.findall(r"\b[A-Z]+\b", text)), N, quantifier, _ten_percent(N))


def validate_end(text: str, end_phrase: str) -> bool:
    """The response ends with the phrase exactly."""
    return text.endswith(end_phrase)


def validate_quotation(text: str) -> bool:
    """The response is wrapped in double quotation marks."""
    return text.startswith('"') and text.endswith('"')


# Same decision as an IFEval checker: delegate, so both layouts score alike.
def _delegate(instruction_id: str, text: str, **kwargs: Any) -> bool:
    from curate.verifiers.ifeval import check_instruction  # ifeval imports this module

    return check_instruction(text, instruction_id, kwargs)


def _language(text: str, language: str) -> bool:
    return _delegate("language:response_language", text, language=language)


def _placeholders(text: str, N: int) -> bool:
    return _delegate("detectable_content:number_placeholders", text, num_placeholders=N)


def _sections(text: str, N: int, section_splitter: str) -> bool:
    return _delegate(
        "detectable_format:multiple_sections",
        text,
        num_sections=N,
        section_spliter=section_splitter,
    )


def _no_commas(text: str) -> bool:
    return _delegate("punctuation:no_comma", text)


@dataclass(frozen=True)
class Function:
    check: Callable[..., bool]
    args: dict[str, type]  # argument name -> type (int, str, list of str)
    choices: dict[str, tuple[str, ...]] | None = None
    ifeval_id: str | None = None  # the if-verifiable checker it delegates to


_N = {"N": int}
_NQ = {"N": int, "quantifier": str}
_Q = {"quantifier": QUANTIFIERS}

FUNCTIONS: dict[str, Function] = {
    "verify_keywords": Function(verify_keywords, {"keyword_list": list}),
    "verify_keyword_frequency": Function(verify_keyword_frequency, {"word": str, **_N}),
    "validate_forbidden_words": Function(validate_forbidden_words, {"forbidden_words": list}),
    "verify_letter_frequency": Function(verify_letter_frequency, {"letter": str, **_N}),
    "validate_response_language": Function(
        _language, {"language": str}, ifeval_id="language:response_language"
    ),
    "verify_paragraph_count": Function(verify_paragraph_count, _N),
    "validate_word_constraint": Function(validate_word_constraint, _NQ, _Q),
    "verify_sentence_constraint": Function(verify_sentence_constraint, _NQ, _Q),
    "validate_paragraphs": Function(validate_paragraphs, {**_N, "first_word": str, "i": int}),
    "verify_postscript": Function(verify_postscript, {"postscript_marker": str}),
    "validate_placeholders": Function(
        _placeholders, _N, ifeval_id="detectable_content:number_placeholders"
    ),
    "verify_bullet_points": Function(verify_bullet_points, _N),
    "validate_title": Function(validate_title, {}),
    "validate_choice": Function(validate_choice, {"options": list}),
    "validate_highlighted_sections": Function(validate_highlighted_sections, _N),
    "validate_sections": Function(
        _sections, {**_N, "section_splitter": str}, ifeval_id="detectable_format:multiple_sections"
    ),
    "validate_json_format": Function(validate_json_format, {}),
    "validate_repeat_prompt": Function(validate_repeat_prompt, {"original_prompt": str}),
    "validate_two_responses": Function(validate_two_responses, {}),
    "validate_uppercase": Function(validate_uppercase, {}),
    "validate_lowercase": Function(validate_lowercase, {}),
    "validate_frequency_capital_words": Function(validate_frequency_capital_words, _NQ, _Q),
    "validate_end": Function(validate_end, {"end_phrase": str}),
    "validate_quotation": Function(validate_quotation, {}),
    "validate_no_commas": Function(_no_commas, {}, ifeval_id="punctuation:no_comma"),
}


def _options(value: Any) -> list[str] | None:
    """open-instruct's `options` is a list or one string such as "(A) yes, (B) no"."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, str) and value.strip():
        return [part.strip() for part in value.split(",") if part.strip()] or None
    return None


def function_call(truth: dict) -> tuple[str, dict[str, Any]]:
    """(func_name, arguments) of one func_name-layout object; ValueError names the problem.

    Null arguments are the layout's padding and are dropped; a missing or mistyped argument
    that the function needs is an error.
    """
    name = truth.get("func_name")
    if name not in FUNCTIONS:
        raise ValueError(
            f"ifeval func_name {name!r} is not a known check "
            f"(known: {len(FUNCTIONS)}, e.g. validate_lowercase)"
        )
    spec = FUNCTIONS[name]
    args: dict[str, Any] = {}
    for arg, kind in spec.args.items():
        value = truth.get(arg)
        if value is None:
            raise ValueError(f"ifeval {name}: argument {arg!r} is missing")
        if arg == "options":
            value = _options(value)
            if value is None:
                raise ValueError(f"ifeval {name}: argument 'options' must list strings")
        elif kind is int:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"ifeval {name}: argument {arg!r} must be a whole number >= 0, got {value!r}"
                )
        elif kind is str and not isinstance(value, str):
            raise ValueError(f"ifeval {name}: argument {arg!r} must be a string, got {value!r}")
        elif kind is list and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise ValueError(f"ifeval {name}: argument {arg!r} must be a list of strings")
        args[arg] = value
    for arg, allowed in (spec.choices or {}).items():
        if args[arg] not in allowed:
            raise ValueError(
                f"ifeval {name}: {arg} must be one of {list(allowed)}, got {args[arg]!r}"
            )
    if name == "verify_letter_frequency" and len(args["letter"]) != 1:
        raise ValueError(f"ifeval {name}: 'letter' must be one character, got {args['letter']!r}")
    return name, args


def run_function(text: str, name: str, args: dict[str, Any]) -> bool:
    return bool(FUNCTIONS[name].check(text, **args))
