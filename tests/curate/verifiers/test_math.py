import pytest

from curate.verifiers import extract_answer, verify


@pytest.mark.parametrize(
    ("completion", "truth", "score"),
    [
        (r"So the probability is $\boxed{\frac{1}{2}}$.", "0.5", 1.0),
        ("Final answer: 0.5", r"\frac{1}{2}", 1.0),
        (r"Final answer: $\frac{2}{4}$", r"\frac{1}{2}", 1.0),
        ("Final answer: 1,000", "1000", 1.0),
        ("Final answer: 12 cm", "12", 1.0),
        (r"We get $x = 3$. Final answer: $x=3$", "3", 1.0),
        (r"The roots give \boxed{2\sqrt{2}}", r"\sqrt{8}", 1.0),
        ("Final answer: 4", "3", 0.0),
        (r"$\boxed{\frac{1}{3}}$", "0.5", 0.0),
        ("I am not sure.", "7", 0.0),
    ],
)
def test_math_equivalence(completion, truth, score):
    assert verify("MATH", completion, truth) == score


def test_extract_answer_prefers_the_last_final_answer_line():
    text = "Final answer: 2\nOops, recomputing.\nFinal answer: 5."
    assert extract_answer(text) == "$5$"


def test_math_unparseable_ground_truth_is_an_error():
    with pytest.raises(ValueError, match="does not parse"):
        verify("math", "Final answer: 1", "")
