import pytest

from curate.verifiers import last_number, verify


@pytest.mark.parametrize(
    ("completion", "truth", "score"),
    [
        ("She has 3 + 4 = 7 apples.\n#### 7", "7", 1.0),
        ("Total cost: $1,000 per month.", "1000", 1.0),
        ("Total cost: 1000 dollars.", "#### 1,000", 1.0),
        ("It takes 2.50 hours", "2.5", 1.0),
        ("Answer: 18 apples, then 5 left over", "18", 0.0),  # the last number counts
        ("#### 18\nWait, (I checked 5 times)", "18", 1.0),  # a '####' line wins
        ("The temperature falls to -4 degrees.", "-4", 1.0),
        ("No number here.", "3", 0.0),
        ("Janet earns 16 - 3 - 4 = 9 eggs * $2 = $18.", "Janet sells... \n#### 18", 1.0),
    ],
)
def test_gsm8k_last_number(completion, truth, score):
    assert verify("gsm8k", completion, truth) == score


def test_gsm8k_name_is_case_insensitive_and_unknown_raises():
    assert verify("GSM8K", "= 12", "12") == 1.0
    with pytest.raises(ValueError, match="unknown verifier"):
        verify("nope", "1", "1")


def test_gsm8k_ground_truth_without_number_is_an_error():
    with pytest.raises(ValueError, match="no number"):
        verify("gsm8k", "5", "five")


def test_last_number_reads_thousands_separators():
    assert str(last_number("from 1,234,567.5 to 3")) == "3"
    assert str(last_number("it is 1,234,567.5.")) == "1234567.5"
