"""Checks on the samples a run drew: the ones a user must hear about once, not per row."""

from __future__ import annotations

from collections.abc import Iterable


def identical_samples_note(
    model: str, groups: Iterable[list[str]], temperature: float
) -> str | None:
    """One line when several samples of a prompt came back byte-identical at temperature > 0.

    Some servers (`transformers serve`, for one) ignore the temperature; majority votes and
    pools of samples then mean nothing, and the user should know it once.
    """
    if temperature <= 0:
        return None
    same = total = 0
    for texts in groups:
        if len(texts) < 2:
            continue
        total += 1
        same += len(set(texts)) == 1
    if not same:
        return None
    return (
        f"{model}: the samples of {same} of {total} prompt(s) are byte-identical although "
        f"temperature is {temperature}; the server may ignore it (majority votes and sample "
        "pools then mean nothing)"
    )
