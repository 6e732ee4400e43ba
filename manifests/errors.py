"""Errors that name the file, the row and the problem."""

from __future__ import annotations


class BadRowError(ValueError):
    """A row that cannot be read or does not meet its contract.

    `row` is the 1-based line number for line-oriented files (JSONL, CSV) and the 0-based
    row index for columnar ones; `None` when the problem is the whole file.
    """

    def __init__(self, file: str, row: int | None, problem: str) -> None:
        self.file = file
        self.row = row
        self.problem = problem
        where = f"{file}" if row is None else f"{file}, row {row}"
        super().__init__(f"{where}: {problem}")
