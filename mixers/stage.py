"""Pass one over a source: read it once, keep its contract rows in a local Arrow file.

Every source, whatever its format, is streamed once into `<work>/<index>.arrow` (contract
rows, record batches of at most `STAGE_BATCH_ROWS`), while the per-row values the mixer
needs later (prompt keys, token counts) are computed batch by batch. Only those small
arrays stay in memory; the rows are read back from the memory-mapped file when the mix
is written.
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from manifests import (
    Accounting,
    BadRowError,
    RejectsWriter,
    detect_kind,
    read_rows,
    schema_for,
    to_contract,
)
from mixers.columnar import (
    ColumnarSource,
    columnar_source,
    contract_table,
    fast_lane_mask,
    iter_batches,
    kind_of_columns,
)
from mixers.errors import MixError
from mixers.keys import prompt_keys, token_counts

STAGE_BATCH_ROWS = 16384
RELEASE_EVERY = 8  # staged batches between allocator releases


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


class _Stager:
    """Keeps contract batches (in memory or in the staged file) and their per-row values."""

    def __init__(
        self,
        file: Path,
        kind: str,
        with_keys: bool,
        count_tokens: Callable[[list[str]], list[int]] | None,
        memory: MemoryBudget | None,
    ) -> None:
        self.file = file
        self.kind = kind
        self.with_keys = with_keys
        self.schema = schema_for(kind)
        self.memory = memory
        self.in_memory: list[pa.RecordBatch] = []
        self.writer: pa.ipc.RecordBatchFileWriter | None = None
        self.count_tokens = count_tokens
        self.keys: list[np.ndarray] = []
        self.tokens: list[np.ndarray] = []
        self.offsets = [0]
        self.batches = 0

    def add(self, table: pa.Table) -> None:
        for start in range(0, table.num_rows, STAGE_BATCH_ROWS):
            part = table.slice(start, STAGE_BATCH_ROWS)
            if part.num_rows == 0:
                continue
            batch = (
                part.to_batches()[0]
                if all(c.num_chunks == 1 for c in part.columns)
                else part.combine_chunks().to_batches()[0]
            )
            if self.with_keys:
                self.keys.append(prompt_keys(part, self.kind))
            if self.count_tokens is not None:
                self.tokens.append(token_counts(part, self.kind, self.count_tokens))
            self._keep(batch)
            self.offsets.append(self.offsets[-1] + batch.num_rows)
            self.batches += 1
            if self.batches % RELEASE_EVERY == 0:
                # The allocator keeps freed batches for reuse, several per reading thread;
                # hand them back now and then (each release costs page faults later).
                pa.default_memory_pool().release_unused()

    def _keep(self, batch: pa.RecordBatch) -> None:
        if self.writer is None and self.memory is not None and self.memory.take(batch.nbytes):
            self.in_memory.append(batch)
            return
        if self.writer is None:
            self.writer = pa.ipc.new_file(str(self.file), self.schema)
            for kept in self.in_memory:
                self.writer.write_batch(kept)
            if self.memory is not None:
                self.memory.give(sum(b.nbytes for b in self.in_memory))
            self.in_memory = []
        self.writer.write_batch(batch)

    def close(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
        if self.writer is not None:
            self.writer.close()
        elif self.memory is None:
            pa.ipc.new_file(str(self.file), self.schema).close()  # an empty staged file
        keys = None
        if self.with_keys:
            keys = np.concatenate(self.keys) if self.keys else np.zeros(0, dtype=np.uint64)
        tokens = None
        if self.count_tokens is not None:
            tokens = np.concatenate(self.tokens) if self.tokens else np.zeros(0, dtype=np.int64)
        return keys, tokens, np.asarray(self.offsets, dtype=np.int64)

    @property
    def memory_batches(self) -> list[pa.RecordBatch] | None:
        """The batches, when the whole source stayed in memory."""
        return self.in_memory if self.writer is None and self.memory is not None else None


def _bad_row(
    on_bad_row: str,
    rejects: RejectsWriter | None,
    acc: Accounting,
    file: str,
    row: int,
    problem: str,
    raw: object,
) -> None:
    if on_bad_row == "error":
        raise BadRowError(file, row, problem)
    assert rejects is not None
    rejects.reject(file, row, problem, raw)
    acc.reject()


def _columnar_tables(
    source: ColumnarSource,
    kind: str,
    *,
    name: str,
    skill: str | None,
    on_bad_row: str,
    rejects: RejectsWriter | None,
    acc: Accounting,
) -> Iterator[pa.Table]:
    schema = schema_for(kind)
    first = 0
    for batch in iter_batches(source):
        n = batch.num_rows
        acc.add_in(n)
        fast = fast_lane_mask(batch, kind, skill_given=skill is not None)
        table = contract_table(
            batch, kind, source=name, skill=skill, file=source.path, first_row=first
        )
        if fast.all():
            yield table
        else:
            keep = np.flatnonzero(fast)
            slow_rows, slow_at = [], []
            slow = np.flatnonzero(~fast)
            for i, record in zip(slow, batch.take(pa.array(slow)).to_pylist(), strict=True):
                try:
                    slow_rows.append(
                        to_contract(
                            record,
                            kind,
                            file=source.path,
                            row=first + int(i),
                            source=name,
                            skill=skill,
                        )
                    )
                    slow_at.append(int(i))
                except ValueError as exc:
                    _bad_row(
                        on_bad_row, rejects, acc, source.path, first + int(i), str(exc), record
                    )
            parts = [table.take(pa.array(keep))]
            if slow_rows:
                parts.append(pa.Table.from_pylist(slow_rows, schema=schema))
            merged = pa.concat_tables(parts)
            order = np.argsort(
                np.concatenate([keep, np.asarray(slow_at, dtype=np.int64)]), kind="stable"
            )
            yield merged.take(pa.array(order))
        first += n


def _record_tables(
    path: str,
    kind: str,
    *,
    where: str,
    name: str,
    skill: str | None,
    mapping: dict[str, str] | None,
    on_bad_row: str,
    rejects: RejectsWriter | None,
    acc: Accounting,
) -> Iterator[pa.Table]:
    schema = schema_for(kind)
    # A prompt mix takes the prompt of any row; other kinds must match what the file holds.
    read_kind = kind if mapping or kind == "prompt" else None
    rows = read_rows(
        path,
        read_kind,
        source=name,
        skill=skill,
        mapping=mapping,
        on_bad_row=on_bad_row,
        rejects=rejects,
        accounting=acc,
    )
    buffer: list[dict] = []
    for row in rows:
        if not buffer and detect_kind(row) != kind:
            raise MixError(
                f"{where}: {path} holds {detect_kind(row)} rows, but the recipe's kind is {kind}"
            )
        buffer.append(row)
        if len(buffer) >= STAGE_BATCH_ROWS:
            yield pa.Table.from_pylist(buffer, schema=schema)
            buffer = []
    if buffer:
        yield pa.Table.from_pylist(buffer, schema=schema)


def stage_source(
    index: int,
    name: str,
    path: str,
    kind: str,
    work_dir: Path,
    *,
    skill: str | None = None,
    mapping: dict[str, str] | None = None,
    on_bad_row: str = "error",
    rejects: RejectsWriter | None = None,
    count_tokens: Callable[[list[str]], list[int]] | None = None,
    keys: bool = True,
    memory: MemoryBudget | None = None,
) -> StagedSource:
    """Read source `index` once into `work_dir`; errors name `sources[index]`."""
    where = f"sources[{index}].path"
    acc = Accounting()
    if not path.startswith("hf://") and not Path(path).exists():
        raise MixError(f"{where}: {path}: no such file or folder")
    try:
        detected = kind_of_columns(path)
        # Any row holds a prompt, so a prompt mix reads every kind (as read_rows does).
        if detected is not None and detected != kind and kind != "prompt" and not mapping:
            raise MixError(
                f"{where}: {path} holds {detected} rows, but the recipe's kind is {kind}"
            )
        columnar = None if mapping else columnar_source(path, kind)
    except (pa.ArrowException, OSError) as exc:
        kind_of_file = {".parquet": "Parquet", ".arrow": "Arrow"}.get(Path(path).suffix, "data")
        raise BadRowError(path, None, f"not a readable {kind_of_file} file: {exc}") from None
    if columnar is not None:
        tables = _columnar_tables(
            columnar, kind, name=name, skill=skill, on_bad_row=on_bad_row, rejects=rejects, acc=acc
        )
    else:
        tables = _record_tables(
            path,
            kind,
            where=where,
            name=name,
            skill=skill,
            mapping=mapping,
            on_bad_row=on_bad_row,
            rejects=rejects,
            acc=acc,
        )
    file = work_dir / f"{index:04d}.arrow"
    stager = _Stager(file, kind, keys, count_tokens, memory)
    try:
        for table in tables:
            stager.add(table)
    except pa.ArrowException as exc:  # a columnar file damaged past its footer
        raise BadRowError(path, None, f"damaged file: {exc}") from None
    finally:
        prompt_keys_or_none, tokens, offsets = stager.close()
    acc.rows_out = int(offsets[-1])
    acc.check()
    return StagedSource(
        index=index,
        name=name,
        path=path,
        file=file,
        accounting=acc,
        keys=prompt_keys_or_none,
        tokens=tokens,
        offsets=offsets,
        memory=stager.memory_batches,
    )
