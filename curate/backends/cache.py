"""A resumable request cache: one JSON line per answered request, appended as it arrives.

A run killed at any moment (even SIGKILL) leaves at worst one torn last line; opening the
cache again drops that line, so a restarted run re-sends only what had no answer.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import IO

from curate.backends.base import Completion
from manifests.atomic import OutputError

log = logging.getLogger(__name__)


class RequestCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._entries: dict[str, Completion] = {}
        self._fh: IO[str] | None = None
        self._failed = False  # a write failed (full disk): closing must not raise it again
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good_end = data.rfind(b"\n") + 1
        if good_end < len(data):
            log.warning("cache %s: dropping a torn last line from an interrupted run", self.path)
            with self.path.open("r+b") as fh:
                fh.truncate(good_end)
        for lineno, line in enumerate(data[:good_end].splitlines(), 1):
            try:
                record = json.loads(line)
                self._entries[record["key"]] = Completion(**record["completion"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{self.path}:{lineno}: bad cache line ({exc})") from None

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Completion | None:
        return self._entries.get(key)

    def put(self, key: str, completion: Completion) -> None:
        """Record an answer and append it to the file at once (one write, then flush)."""
        if key in self._entries:
            return
        self._entries[key] = completion
        record = {"key": key, "completion": completion.__dict__}
        try:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("a", encoding="utf-8")
            self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._fh.flush()
        except OSError as exc:  # a torn last line is dropped when the cache is opened again
            self._failed = True
            raise OutputError(self.path, exc.strerror or str(exc)) from None

    def sync(self) -> None:
        if self._fh is not None:
            try:
                self._fh.flush()
                os.fsync(self._fh.fileno())
            except OSError as exc:
                self._failed = True
                raise OutputError(self.path, exc.strerror or str(exc)) from None

    def close(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            try:
                fh.close()
            except OSError as exc:
                if not self._failed:
                    raise OutputError(self.path, exc.strerror or str(exc)) from None

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
