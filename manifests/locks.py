"""One writer per output folder: an flock on `<folder>/.skillmix.lock`.

The lock belongs to the open file, so it dies with the process (kill -9 included) and
never needs clearing by hand. The file holds the holder's PID for the error message.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".skillmix.lock"


class FolderLockedError(RuntimeError):
    """Another process is writing the folder."""


@contextmanager
def folder_lock(folder: Path, what: str = "skillmix") -> Iterator[Path]:
    """Hold the folder's lock for the block; FolderLockedError naming the holder if taken."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise FolderLockedError(f"{folder}: another {what} (PID {holder}) is writing here; "
                                f"wait for it to finish or stop it") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
