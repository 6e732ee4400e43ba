"""IFEval ground truths in every layout in use: Google's, open-instruct's list, and the
older func_name objects of allenai/RLVR-IFeval, scored right and named when malformed."""

from __future__ import annotations

import json

import pytest

from curate.verifiers import verify
from curate.verifiers.ifeval import ground_truth_layout, instruction_results, parse_ground_truth
from curate.verifiers.ifeval_functions import FUNCTIONS

# Every argument name the func_name layout pads with nulls (as the public data does).
_PADDING = (
    "N",
    "quantifier",
    "keyword_list",
    "word",
    "forbidden_words",
    "letter",
    "language",
    "first_word",
    "i",
    "postscript_marker",
    "options",
    "section_splitter",
    "original_prompt",
    "end_phrase",
)


def func_truth(name: str, **args) -> str:
    return json.dumps({"func_name": name, **dict.fromkeys(_PADDING), **args})


# (func_name, arguments, a response that meets it, one that does not)
CASES = [
    (
        "verify_keywords",
        {"keyword_list": ["Garden", "rain"]},
        "The garden needs RAIN.",
        "The garden is dry.",
    ),
    (
        "verify_keyword_frequency",
        {"word": "cat", "N": 2},
        "A cat and another Cat.",
        "A cat, a cat and a cat.",
    ),
    (
        "validate_forbidden_words",
        {"forbidden_words": ["very", "really"]},
        "It is good.",
        "It is Really good.",
    ),
    ("verify_letter_frequency", {"letter": "z", "N": 3}, "zzz", "zz Z"),
    (
        "validate_response_language",
        {"language": "de"},
        "Heute ist das Wetter sehr schön und wir gehen in den Park spazieren.",
        "Today the weather is very nice and we are going for a walk in the park.",
    ),
    ("verify_paragraph_count", {"N": 2}, "one\n* * *\ntwo", "one\n* * *\n* * *\ntwo"),
    (
        "validate_word_constraint",
        {"N": 10, "quantifier": "around"},
        " ".join(["w"] * 11),
        " ".join(["w"] * 13),
    ),
    (
        "verify_sentence_constraint",
        {"N": 2, "quantifier": "at most"},
        "One. Two.",
        "One. Two. Three.",
    ),
    (
        "validate_paragraphs",
        {"N": 2, "first_word": "Second", "i": 2},
        "First part.\n\nSecond part.",
        "First part.\n\nThird part.",
    ),
    ("verify_postscript", {"postscript_marker": "P.S."}, "Hello.\nP.S. see you", "Hello. P.S."),
    ("validate_placeholders", {"N": 2}, "Dear [name] at [address]", "Dear [name]"),
    ("verify_bullet_points", {"N": 2}, "* a\n* b", "* a\n* b\n- c"),
    ("validate_title", {}, "<<My Poem>>\nroses", "My Poem\nroses"),
    (
        "validate_choice",
        {"options": ["My answer is yes.", "My answer is no."]},
        "My answer is no.",
        "Perhaps.",
    ),
    ("validate_highlighted_sections", {"N": 2}, "*one* and *two*", "*one* only"),
    (
        "validate_sections",
        {"N": 2, "section_splitter": "Section"},
        "Section 1\nintro\nSection 2\nbody",
        "Section 1\nintro only",
    ),
    ("validate_json_format", {}, '{"a": [1, 2]}', '```json\n{"a": 1}\n```'),
    (
        "validate_repeat_prompt",
        {"original_prompt": "Write a haiku."},
        "Write a haiku. Leaves fall...",
        "Sure! Write a haiku.",
    ),
    ("validate_two_responses", {}, "First take.\n******\nSecond take.", "Same.\n******\nSame."),
    ("validate_uppercase", {}, "ALL CAPS HERE", "Not all caps"),
    ("validate_lowercase", {}, "all lower here, ü", "All lower? No"),
    (
        "validate_frequency_capital_words",
        {"N": 2, "quantifier": "at least"},
        "THE BIG dog",
        "The BIG dog",
    ),
    (
        "validate_end",
        {"end_phrase": "Any other questions?"},
        "Done. Any other questions?",
        "Any other questions? Done.",
    ),
    ("validate_quotation", {}, '"wrapped"', 'not "wrapped"'),
    ("validate_no_commas", {}, "no commas at all", "one, two"),
]


def test_every_func_name_is_covered():
    assert {c[0] for c in CASES} == set(FUNCTIONS)
    assert len(FUNCTIONS) >= 25


@pytest.mark.parametrize(("name", "args", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_func_name_layout_scores_right_and_wrong_answers(name, args, good, bad):
    gt = func_truth(name, **args)
    assert ground_truth_layout(gt) == "func_name"
    assert verify("ifeval", good, gt) == 1.0
    assert verify("ifeval", bad, gt) == 0.0
    assert verify("IFEval", good, gt) == 1.0  # Tülu spells names in any case


def test_three_layouts_of_one_constraint_set_score_alike():
    ids = ["punctuation:no_comma", "keywords:existence"]
    kwargs = [{}, {"keywords": ["tea"]}]
    google = json.dumps({"instruction_id_list": ids, "kwargs": kwargs})
    open_instruct = json.dumps([{"instruction_id": ids, "kwargs": kwargs}])
    python_literal = str({"instruction_id_list": ids, "kwargs": kwargs})  # single quotes
    assert [ground_truth_layout(g) for g in (google, open_instruct, python_literal)] == [
        "ifeval",
        "open_instruct",
        "ifeval",
    ]
    for gt in (google, open_instruct, python_literal):
        assert instruction_results("I like tea", gt) == [True, True]
        assert instruction_results("I like tea, a lot", gt) == [False, True]
        assert instruction_results("I like coffee, a lot", gt) == [False, False]
        assert verify("ifeval", "I like tea, a lot", gt) == 0.5


def test_open_instruct_layout_with_nulls_and_several_entries():
    gt = json.dumps(
        [
            {
                "instruction_id": ["length_constraints:number_words"],
                "kwargs": [{"num_words": 10, "relation": "less than", "keywords": None}],
            },
            {"instruction_id": ["change_case:english_lowercase"], "kwargs": [None]},
        ]
    )
    assert [c.name for c in parse_ground_truth(gt)] == [
        "length_constraints:number_words",
        "change_case:english_lowercase",
    ]
    assert verify("ifeval", "i like the sunny weather we have today", gt) == 1.0
    assert verify("ifeval", "I Like The Sunny Weather We Have Today", gt) == 0.5
    too_long = "i like the sunny weather we have today and also tomorrow ok"
    assert verify("ifeval", too_long, gt) == 0.5


@pytest.mark.parametrize(
    ("gt", "problem"),
    [
        ("{nope", "not JSON"),
        ("[]", "empty list"),
        ('"just a string"', "expected an object"),
        ('{"answer": 4}', "no known layout"),
        (func_truth("validate_made_up"), "not a known check"),
        (func_truth("validate_word_constraint", N=5), "'quantifier' is missing"),
        (func_truth("validate_word_constraint", N=5, quantifier="exactly"), "must be one of"),
        (func_truth("verify_keyword_frequency", word="a", N="two"), "whole number"),
        (func_truth("verify_letter_frequency", letter="ab", N=1), "one character"),
        (func_truth("verify_keywords", keyword_list="tea"), "list of strings"),
        (json.dumps({"instruction_id_list": ["made:up"], "kwargs": [{}]}), "unknown IFEval"),
        (
            json.dumps({"instruction_id_list": ["keywords:existence"], "kwargs": [{}]}),
            r"lacks \['keywords'\]",
        ),
        (
            json.dumps({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]}),
            "1 ids but 2 kwargs",
        ),
        (
            json.dumps(
                {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"keywords": ["x"]}]}
            ),
            "takes no",
        ),
        (
            json.dumps([{"instruction_id": "punctuation:no_comma", "kwargs": "x"}]),
            "1 ids but str kwargs",
        ),
    ],
)
def test_malformed_truths_are_named(gt, problem):
    with pytest.raises(ValueError, match=problem):
        parse_ground_truth(gt)


def test_func_name_works_on_non_latin_text():
    gt = func_truth("verify_keyword_frequency", word="猫", N=1)
    assert verify("ifeval", "我有一只 猫 。", gt) == 1.0
    gt = func_truth("validate_lowercase")
    assert verify("ifeval", "ελληνικά και русский", gt) == 1.0
    assert verify("ifeval", "Ελληνικά", gt) == 0.0


def test_open_instruct_names_and_reasoning_completions():
    gt = func_truth("validate_lowercase")
    assert verify("ifeval_old", "all lower", gt) == 1.0  # open-instruct's name for this layout
    # The checks read the answer after a reasoning block, as open-instruct's verifiers do.
    assert verify("ifeval", "<think>Thinking In Capitals</think>\nall lower", gt) == 1.0
    assert verify("ifeval", "<think>fine</think>\nNot Lower", gt) == 0.0


def test_truth_problem_names_bad_truths_for_readers():
    from curate.verifiers import truth_problem

    assert truth_problem("IFEval", func_truth("validate_lowercase")) is None
    assert "no known layout" in truth_problem("ifeval", '{"answer": 4}')
    assert "unknown verifier" in truth_problem("chess", "e4")
    assert truth_problem("gsm8k", "72") is None
