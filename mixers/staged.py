"""A source's contract rows staged on local disk (or kept in memory), read back by index.

Pass one (`mixers.stage`) streams every source once into `<work>/<index>.arrow`: contract
rows in record batches of at most `STAGE_BATCH_ROWS`, with the small per-row arrays the
mixer needs later (prompt keys, token counts). The rows are read back from the memory-mapped
file when the mix is written.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from manifests import Accounting
from mixers.budgets import ResidentBudget

STAGE_BATCH_ROWS = 16384


@dataclass
class StagedSource:
    """A source's contract rows on local disk, with what pass one learned about them."""

    index: int
    name: str
    path: str
    file: Path
    accounting: Accounting
    keys: np.ndarray | None  # prompt keys for exact dedup (when asked for)
    tokens: np.ndarray | None
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    memory: list[pa.RecordBatch] | None = None  # the batches, when kept in memory
    _maps: list[mmap.mmap] = field(default_factory=list, repr=False)
    _spans: dict = field(default_factory=dict, repr=False)

    @property
    def rows(self) -> int:
        return int(self.offsets[-1])

    def open(self) -> list[pa.RecordBatch]:
        """The staged record batches: in memory, or memory mapped from the file."""
        if self.memory is not None:
            return list(self.memory)
        with open(self.file, "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self._maps.append(mapped)
        reader = pa.ipc.open_file(pa.BufferReader(pa.py_buffer(mapped)))
        batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        base = np.frombuffer(mapped, dtype=np.uint8).ctypes.data if len(mapped) else 0
        self._spans = {id(b): (mapped, *_page_span(b, base, len(mapped))) for b in batches}
        return batches

    def drop_pages(self) -> None:
        """Hand every page read so far back to the page cache."""
        for mapped in self._maps:
            mapped.madvise(mmap.MADV_DONTNEED)

    def gather(
        self,
        rows: np.ndarray,
        batches: list[pa.RecordBatch],
        budget: ResidentBudget | None = None,
    ) -> tuple[pa.Table, np.ndarray]:
        """Rows by index, as (table, order): table row j is `rows[order[j]]`."""
        order = np.argsort(rows, kind="stable")
        wanted = rows[order]
        which = np.searchsorted(self.offsets, wanted, side="right") - 1
        cuts = np.flatnonzero(np.diff(which)) + 1
        pieces = []
        for part in np.split(np.arange(len(wanted)), cuts):
            if not len(part):
                continue
            b = int(which[part[0]])
            local = wanted[part] - self.offsets[b]
            pieces.append(batches[b].take(pa.array(local)))
            span = self._spans.get(id(batches[b]))
            if budget is not None and span is not None:
                budget.touch(span)
        return pa.Table.from_batches(pieces, schema=batches[0].schema), order


def _page_span(batch: pa.RecordBatch, base: int, size: int) -> tuple[int, int]:
    """(start, length) of the page-aligned part of the mapping that holds `batch`."""
    addresses = [
        (buf.address, buf.size)
        for column in batch.columns
        for buf in column.buffers()
        if buf is not None and buf.size
    ]
    if not addresses:
        return 0, 0
    start = min(a for a, _ in addresses) - base
    end = max(a + n for a, n in addresses) - base
    start = max(0, start - start % mmap.PAGESIZE)
    end = min(size, end)
    return start, max(0, end - start)
