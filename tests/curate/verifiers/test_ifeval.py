import json

import pytest

from curate.verifiers import instruction_results, verify


def truth(*pairs):
    return json.dumps(
        {"instruction_id_list": [p[0] for p in pairs], "kwargs": [p[1] for p in pairs]}
    )


def test_share_of_constraints_met():
    gt = truth(
        ("punctuation:no_comma", {}),
        ("detectable_content:postscript", {"postscript_marker": "p.s."}),
        ("change_case:english_lowercase", {}),
        ("keywords:existence", {"keywords": ["garden"]}),
    )
    good = "my garden grows tomatoes\n\np.s. water them daily"
    assert verify("ifeval", good, gt) == 1.0
    # Breaks no_comma and lowercase, keeps postscript and keyword.
    bad = "My garden, in June\n\np.s. water them"
    assert instruction_results(bad, gt) == [False, True, False, True]
    assert verify("ifeval", bad, gt) == 0.5


def test_public_ifeval_kwargs_with_nulls_are_accepted():
    # The HF IFEval layout lists every kwarg, with None for the unused ones.
    gt = json.dumps(
        {
            "instruction_id_list": ["length_constraints:number_words"],
            "kwargs": [{"num_words": 5, "relation": "less than", "keywords": None}],
        }
    )
    assert verify("ifeval", "one two three", gt) == 1.0
    assert verify("ifeval", "one two three four five six", gt) == 0.0


def test_sentence_and_capital_counts_work_without_nltk_downloads():
    gt = truth(
        ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"}),
        (
            "change_case:capital_word_frequency",
            {"capital_frequency": 2, "capital_relation": "at least"},
        ),
    )
    assert verify("ifeval", "It RAINS. We STAY in. Dr. Who waits.", gt) == 1.0
    assert verify("ifeval", "It rains.", gt) == 0.0


def test_json_format_and_empty_response():
    gt = truth(("detectable_format:json_format", {}))
    assert verify("ifeval", '```json\n{"a": 1}\n```', gt) == 1.0
    assert verify("ifeval", "", gt) == 0.0


def test_bad_ground_truth_is_reported():
    with pytest.raises(ValueError, match="not JSON"):
        verify("ifeval", "x", "{nope")
    with pytest.raises(ValueError, match="unknown IFEval instruction"):
        verify("ifeval", "x", truth(("made:up", {})))


def test_response_language_is_checked_and_repeatable():
    gt = truth(("language:response_language", {"language": "fr"}))
    french = "Bonjour, je suis très content de vous voir ici aujourd'hui avec vos amis."
    assert [verify("ifeval", french, gt) for _ in range(3)] == [1.0, 1.0, 1.0]
    assert verify("ifeval", "Hello there, how are you doing today, my friend?", gt) == 0.0
