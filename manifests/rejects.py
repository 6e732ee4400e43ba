"""The rejects file: every bad row, with its reason, beside the output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any


class RejectsWriter:
    """Appends one JSON line per rejected row; the file is created on the first reject."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = 0
        self._fh: IO[str] | None = None

    def reject(self, file: str, row: int | None, reason: str, raw: Any = None) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", encoding="utf-8")
        record = {"file": file, "row": row, "reason": reason, "raw": _jsonable(raw)}
        # ASCII escapes keep undecodable input (lone surrogates) writable.
        self._fh.write(json.dumps(record) + "\n")
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RejectsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jsonable(raw: Any) -> Any:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    try:
        json.dumps(raw)
        return raw
    except (TypeError, ValueError):
        return repr(raw)
