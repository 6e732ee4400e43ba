"""Row accounting: every stage reports in = out + removed (by reason) + rejected."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Accounting:
    rows_in: int = 0
    rows_out: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    rejected: int = 0

    def add_in(self, n: int = 1) -> None:
        self.rows_in += n

    def add_out(self, n: int = 1) -> None:
        self.rows_out += n

    def remove(self, reason: str, n: int = 1) -> None:
        self.removed[reason] = self.removed.get(reason, 0) + n

    def reject(self, n: int = 1) -> None:
        self.rejected += n

    @property
    def removed_total(self) -> int:
        return sum(self.removed.values())

    def balanced(self) -> bool:
        return self.rows_in == self.rows_out + self.removed_total + self.rejected

    def check(self) -> None:
        """Raise when a row went unaccounted for."""
        if not self.balanced():
            raise AssertionError(f"row accounting does not balance: {self.summary()}")

    def merge(self, other: Accounting) -> None:
        self.rows_in += other.rows_in
        self.rows_out += other.rows_out
        self.rejected += other.rejected
        for reason, n in other.removed.items():
            self.remove(reason, n)

    def to_dict(self) -> dict:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "removed": dict(sorted(self.removed.items())),
            "rejected": self.rejected,
        }

    def summary(self) -> str:
        removed = ", ".join(f"{k}={v}" for k, v in sorted(self.removed.items())) or "none"
        return (
            f"rows in {self.rows_in}, out {self.rows_out}, "
            f"removed {self.removed_total} ({removed}), rejected {self.rejected}"
        )
