"""The rejects file: every bad row, with its reason, beside the output."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import IO, Any

from manifests.atomic import AtomicTarget, OutputError

REJECTS_NAME = "rejects.jsonl"


def rejects_path_for(output: str | Path) -> Path:
    """rejects.jsonl beside an output file or folder."""
    return Path(output).parent / REJECTS_NAME


class RejectsWriter:
    """Appends one JSON line per rejected row; the file is created on the first reject.

    Written through a temp file that `close()` renames into place (also after a failed
    run: the rejects up to the failure are the record of what went wrong).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = 0
        self._fh: IO[str] | None = None
        self._atomic: AtomicTarget | None = None

    def reject(self, file: str, row: int | None, reason: str, raw: Any = None) -> None:
        record = {"file": file, "row": row, "reason": reason, "raw": _jsonable(raw)}
        try:
            if self._fh is None:
                self._atomic = AtomicTarget(self.path)
                self._fh = self._atomic.path.open("w", encoding="utf-8")
            # ASCII escapes keep undecodable input (lone surrogates) writable.
            self._fh.write(json.dumps(record) + "\n")
        except OSError as exc:
            self._drop()
            if isinstance(exc, OutputError):
                raise
            raise OutputError(self.path, exc.strerror or str(exc)) from None
        self.count += 1

    def _drop(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            with contextlib.suppress(OSError):
                fh.close()
        if self._atomic is not None:
            self._atomic.abort()

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError as exc:
                self._fh = None
                self._drop()
                raise OutputError(self.path, exc.strerror or str(exc)) from None
            self._fh = None
            assert self._atomic is not None
            self._atomic.commit()

    def __enter__(self) -> RejectsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jsonable(raw: Any) -> Any:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    try:
        json.dumps(raw, allow_nan=False)
        return raw
    except (TypeError, ValueError):
        return repr(raw)
