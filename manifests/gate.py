"""The row gate: the one owner of the bad-row policy.

A step says only whether a row is good and, if not, why; the gate does the rest. With
`on_bad_row="error"` the first bad row raises `BadRowError` (file, row, problem); with
`"skip"` the row goes to the rejects file with its reason and is counted as rejected.
When skipping rejects every row of an input, `finish` raises `NoValidRowsError`, so a
wrong file or mapping never passes as an empty result.
"""

from __future__ import annotations

from typing import Any

from manifests.accounting import Accounting
from manifests.errors import BadRowError, NoValidRowsError
from manifests.rejects import RejectsWriter

ON_BAD_ROW = ("error", "skip")


def check_on_bad_row(on_bad_row: str) -> str:
    """`on_bad_row` itself, or ValueError naming the allowed values."""
    if on_bad_row not in ON_BAD_ROW:
        raise ValueError(f"on_bad_row must be one of {ON_BAD_ROW}, got {on_bad_row!r}")
    return on_bad_row


class RowGate:
    """Counts the rows of one input and applies the bad-row policy to those that fail.

    `accounting` (shared with the caller, or a new one) receives every count; the gate
    also counts this input's rows on its own, for the all-rejected rule.
    """

    def __init__(
        self,
        on_bad_row: str = "error",
        rejects: RejectsWriter | None = None,
        accounting: Accounting | None = None,
    ) -> None:
        self.on_bad_row = check_on_bad_row(on_bad_row)
        if on_bad_row == "skip" and rejects is None:
            raise ValueError("on_bad_row='skip' needs a RejectsWriter to record what it skips")
        self.rejects = rejects
        self.accounting = accounting if accounting is not None else Accounting()
        self.seen = 0
        self.rejected = 0

    def count_in(self, n: int = 1) -> None:
        """`n` rows read (for steps that decide on them later, or batch by batch)."""
        self.seen += n
        self.accounting.add_in(n)

    def reject(self, file: str, row: int | None, problem: str, raw: Any = None) -> None:
        """A bad row already counted in: raise, or write it to the rejects and count it."""
        if self.on_bad_row == "error":
            raise BadRowError(file, row, problem)
        assert self.rejects is not None
        self.rejects.reject(file, row, problem, raw)
        self.rejected += 1
        self.accounting.reject()

    def admit(self, file: str, row: int | None, problem: str | None, raw: Any = None) -> bool:
        """Count one row in; True (and counted out) when `problem` is None, else rejected."""
        self.count_in()
        if problem is None:
            self.accounting.add_out()
            return True
        self.reject(file, row, problem, raw)
        return False

    def finish(self, file: str) -> None:
        """The all-rejected rule: an input whose every row was rejected is an error."""
        if self.seen and self.rejected == self.seen:
            assert self.rejects is not None
            raise NoValidRowsError(file, self.rejected, self.rejects.path)
