"""GSM8K-style verifier: the last number of the completion against the reference number."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# A number with optional sign, thousands separators and decimals: "-1,234.50", "72", ".5".
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")
_ANSWER_MARK = "####"


def last_number(text: str) -> Decimal | None:
    """The last number written in `text` ("$1,000.00 per month" -> 1000.00), or None."""
    found = None
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        if not any(ch.isdigit() for ch in token):
            continue
        try:
            found = Decimal(token.replace(",", ""))
        except InvalidOperation:
            continue
    return found


def marked_number(text: str) -> Decimal | None:
    """The first number after the last '####' mark, or None when there is no mark."""
    if _ANSWER_MARK not in text:
        return None
    tail = text.rsplit(_ANSWER_MARK, 1)[1]
    for match in _NUMBER.finditer(tail):
        if any(ch.isdigit() for ch in match.group(0)):
            return Decimal(match.group(0).replace(",", ""))
    return None


def reference_number(ground_truth: str) -> Decimal:
    """The number of a GSM8K reference: a bare number or a worked solution ending '#### N'."""
    number = marked_number(ground_truth)
    if number is None:
        number = last_number(ground_truth)
    if number is None:
        raise ValueError(f"gsm8k ground truth holds no number: {ground_truth[:80]!r}")
    return number


def verify_gsm8k(completion: str, ground_truth: str) -> float:
    """1.0 when the completion's final number equals the reference, else 0.0.

    A '####' line in the completion wins over later text, as in GSM8K's own format.
    """
    expected = reference_number(ground_truth)
    got = marked_number(completion)
    if got is None:
        got = last_number(completion)
    return 1.0 if got is not None and got == expected else 0.0
