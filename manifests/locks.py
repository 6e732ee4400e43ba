"""One writer per output folder: a POSIX record lock on `<folder>/.skillmix.lock`.

The lock belongs to the open file, so it dies with the process (kill -9 included) and
never needs clearing by hand. The file holds the holder's PID for the error message.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".skillmix.lock"


ORPHAN_WAIT_S = 15.0  # how long a dead holder's exiting workers may keep the lock


def _alive(pid_text: str) -> bool:
    try:
        os.kill(int(pid_text), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


class FolderLockedError(RuntimeError):
    """Another process is writing the folder."""


@contextmanager
def folder_lock(folder: Path, what: str = "skillmix") -> Iterator[Path]:
    """Hold the folder's lock for the block; FolderLockedError naming the holder if taken."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + ORPHAN_WAIT_S
    while True:
        try:
            # A POSIX record lock, not flock: forked workers do not inherit it, so it dies
            # with the process that took it (kill -9 included), whatever its children do.
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except (BlockingIOError, PermissionError):
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            # Forked workers share the lock's open file: after a kill -9 of their driver
            # they hold it until they die too (they are told to, see die_with_parent).
            if not _alive(holder) and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            os.close(fd)
            raise FolderLockedError(
                f"{folder}: another {what} (PID {holder}) is writing "
                f"here; wait for it to finish or stop it"
            ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
