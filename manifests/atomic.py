"""The one owner of atomic writes: a temp file beside the target, fsync, rename.

Every command that writes results goes through `atomic_path` (for writers that want a
path, e.g. pyarrow) or `atomic_open` (a file object). On any failure the temp file is
removed, so the final name never holds a partial file: it holds the previous content or
nothing. An `OSError` (full disk, permissions, a folder in the way) is re-raised as
`OutputError`, which names the final file.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

TMP_RE = re.compile(r"\.tmp-(\d+)-")  # the temp names below: `.tmp-PID-<final name>.XXXX`


class OutputError(OSError):
    """An output that could not be written; names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: could not write: {problem}")


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def fsync_path(path: str | Path) -> None:
    """fsync a file, or every file in a folder, and the folder itself."""
    p = Path(path)
    files = [f for f in p.rglob("*") if f.is_file()] if p.is_dir() else [p]
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _fsync_dir(p.parent)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem fsyncs folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _dead_temp(path: Path) -> bool:
    match = TMP_RE.match(path.name)
    return bool(match) and not pid_alive(int(match.group(1))) and path.exists()


def remove_dead_temp_files(folder: Path, recursive: bool = True) -> list[Path]:
    """Remove the temp files and folders of writers whose process is gone (a kill -9)."""
    removed = []
    found = folder.rglob(".tmp-*") if recursive else folder.glob(".tmp-*")
    for path in sorted(found, reverse=True):
        if _dead_temp(path):
            _remove(path)
            removed.append(path)
    return removed


def _temp_name(target: Path, folder: bool) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    # What a killed writer of this same target left behind goes first.
    for stale in target.parent.glob(f".tmp-*-{glob.escape(target.name)}.*"):
        if _dead_temp(stale):
            _remove(stale)
    prefix = f".tmp-{os.getpid()}-{target.name}."
    if folder:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    # mkstemp makes a private (0600) file; an output gets the mode a plain open() would
    # give under the process's umask.
    fd, name = tempfile.mkstemp(prefix=prefix, dir=target.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    return Path(name)


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _commit(tmp: Path, target: Path) -> None:
    fsync_path(tmp)
    if target.is_dir() and not target.is_symlink():
        if not tmp.is_dir():
            raise IsADirectoryError(21, "is a folder, not a file", str(target))
        old = Path(tempfile.mkdtemp(prefix=f".old-{target.name}.", dir=target.parent))
        os.rename(target, old / "x")
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
    _fsync_dir(target.parent)


class AtomicTarget:
    """A temp path beside `target`: `commit()` renames it into place, `abort()` removes it."""

    def __init__(self, target: str | Path, folder: bool = False) -> None:
        self.final = Path(target)
        if self.final.is_dir() and not folder:
            raise OutputError(self.final, "is a folder, not a file")
        try:
            self.path = _temp_name(self.final, folder)
        except OSError as exc:
            raise OutputError(self.final, _describe(exc)) from None
        if folder:
            self.path.rmdir()  # writers such as save_to_disk create the folder themselves
        self.done = False

    def commit(self) -> None:
        try:
            _commit(self.path, self.final)
        except OSError as exc:
            self.abort()
            raise OutputError(self.final, _describe(exc)) from None
        self.done = True

    def abort(self) -> None:
        if not self.done:
            _remove(self.path)
            self.done = True


@contextlib.contextmanager
def atomic_path(target: str | Path, folder: bool = False) -> Iterator[Path]:
    """Yield a temp path beside `target`; on success it becomes `target` (file or folder)."""
    atomic = AtomicTarget(target, folder)
    try:
        yield atomic.path
    except OSError as exc:
        atomic.abort()
        if isinstance(exc, OutputError):
            raise
        raise OutputError(atomic.final, _describe(exc)) from None
    except BaseException:
        atomic.abort()
        raise
    atomic.commit()


@contextlib.contextmanager
def atomic_open(target: str | Path, mode: str = "w", **kwargs: object) -> Iterator[IO]:
    """`open()` for writing, atomically: the file appears under its name only when complete."""
    if "w" not in mode:
        raise ValueError("atomic_open is for writing ('w' or 'wb')")
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(target) as tmp, open(tmp, mode, **kwargs) as fh:  # type: ignore[call-overload]
        yield fh


def atomic_write_text(target: str | Path, text: str) -> None:
    with atomic_open(target, "w") as fh:
        fh.write(text)


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_open(target, "wb") as fh:
        fh.write(data)
