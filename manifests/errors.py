"""Errors that name the file, the row and the problem."""

from __future__ import annotations

from pathlib import Path


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


class NoValidRowsError(BadRowError):
    """Skipping bad rows rejected every row of an input: nothing valid is left to write.

    A `BadRowError` about the whole file (`row` is None), so every command that names bad
    rows names this one too, and exits 1.
    """

    def __init__(self, file: str, rejected: int, rejects_path: str | Path) -> None:
        self.rejected = rejected
        self.rejects_path = Path(rejects_path)
        super().__init__(
            file,
            None,
            f"no valid rows: all {rejected} row(s) were rejected (reasons in {self.rejects_path})",
        )


class UsageError(ValueError):
    """Arguments that do not go together, or a value the call cannot take; the CLI shows
    it as a usage error (exit 2), not as a failed run."""
