"""The source table that flows between pipeline stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class SourceRef:
    """One named source: where its rows are now, and how the mix should take them."""

    name: str
    path: str
    kind: str
    take: dict[str, Any] = field(default_factory=lambda: {"fraction": 1.0})
    skill: str | None = None
    mapping: dict[str, str] | None = None

    def moved_to(self, path: str, **changes: Any) -> SourceRef:
        """The same source after a stage rewrote its rows (as contract rows) to `path`."""
        return replace(self, path=path, mapping=None, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SourceRef:
        return cls(**data)


Sources = dict[str, SourceRef]


def sources_to_json(sources: Sources) -> list[dict]:
    return [s.to_dict() for s in sources.values()]


def sources_from_json(items: list[dict]) -> Sources:
    refs = [SourceRef.from_dict(item) for item in items]
    return {ref.name: ref for ref in refs}
