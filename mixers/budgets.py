"""Memory budgets of the mixer: staged rows kept in memory, staged pages kept mapped."""

from __future__ import annotations

import mmap
import threading


class ResidentBudget:
    """A cap on the staged pages mapped into this process while rows are gathered.

    Random reads fault in whole runs of pages around each row, so gathering from a large
    staged file would make most of it resident. When the batches touched since the last
    release pass `limit` bytes, their pages are handed back to the page cache (and read
    again from it if needed): resident memory stays near `limit` whatever the data size,
    and data smaller than `limit` is faulted in only once.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.touched: dict[tuple[int, int], tuple[mmap.mmap, int, int]] = {}

    def touch(self, span: tuple[mmap.mmap, int, int]) -> None:
        key = (id(span[0]), span[1])
        if key not in self.touched:
            self.touched[key] = span
            self.size += span[2]
            if self.size > self.limit:
                self.release()

    def release(self) -> None:
        for mapped, start, length in self.touched.values():
            if length:
                mapped.madvise(mmap.MADV_DONTNEED, start, length)
        self.touched.clear()
        self.size = 0


class MemoryBudget:
    """Bytes of staged rows the mixer may keep in memory, shared by the reading threads.

    A source is kept in memory while the budget lasts; the first batch that does not fit
    sends that source's batches to its staged file, and the rest of it follows them there.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> bool:
        with self._lock:
            if self.used + nbytes > self.limit:
                return False
            self.used += nbytes
            return True

    def give(self, nbytes: int) -> None:
        with self._lock:
            self.used -= nbytes
