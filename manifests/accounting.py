"""Row accounting: every stage reports in = out + removed (by reason) + rejected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from manifests.reasons import check_reason, current_name


@dataclass
class Accounting:
    rows_in: int = 0
    rows_out: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    rejected: int = 0

    def __post_init__(self) -> None:
        for reason in self.removed:
            check_reason(reason)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Accounting:
        """An accounting as `to_dict` wrote it, perhaps by an earlier version (its reasons
        are read under their current names)."""
        removed: dict[str, int] = {}
        for reason, n in data.get("removed", {}).items():
            name = current_name(reason)
            removed[name] = removed.get(name, 0) + n
        return cls(data["rows_in"], data["rows_out"], removed, data["rejected"])

    def add_in(self, n: int = 1) -> None:
        self.rows_in += n

    def add_out(self, n: int = 1) -> None:
        self.rows_out += n

    def remove(self, reason: str, n: int = 1) -> None:
        """`n` rows removed for `reason`, one of `manifests.reasons.REASONS`."""
        check_reason(reason)
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

    def then(self, step: Accounting) -> Accounting:
        """This accounting (a read) followed by `step`, which took the rows it let through:
        rows in from the read, rows out from the step, removed and rejected from both;
        checked to balance."""
        total = Accounting(
            self.rows_in, step.rows_out, dict(self.removed), self.rejected + step.rejected
        )
        for reason, n in step.removed.items():
            total.remove(reason, n)
        total.check()
        return total

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
