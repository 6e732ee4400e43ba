"""Pass one over a source: read it once, keep its contract rows in a local Arrow file.

Every source, whatever its format, is streamed once into `<work>/<index>.arrow` (contract
rows, record batches of at most `STAGE_BATCH_ROWS`), while the per-row values the mixer
needs later (prompt keys, token counts) are computed batch by batch. Only those small
arrays stay in memory; the rows are read back from the memory-mapped file when the mix
is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from manifests import BadRowError, RejectsWriter, RowGate, schema_for
from mixers.budgets import MemoryBudget
from mixers.columnar import columnar_source, kind_of_columns
from mixers.errors import MixError
from mixers.keys import prompt_keys, token_counts
from mixers.lanes import columnar_tables, record_tables
from mixers.staged import STAGE_BATCH_ROWS, StagedSource

RELEASE_EVERY = 8  # staged batches between allocator releases


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
    lineage: str | None = None,
) -> StagedSource:
    """Read source `index` once into `work_dir`; errors name `sources[index]`. `lineage`
    names the file in the rows' metadata (default: `path`)."""
    where = f"sources[{index}].path"
    gate = RowGate(on_bad_row, rejects)
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
        tables = columnar_tables(columnar, kind, name=name, skill=skill, gate=gate, lineage=lineage)
    else:
        tables = record_tables(
            path,
            kind,
            where=where,
            name=name,
            skill=skill,
            mapping=mapping,
            gate=gate,
            lineage=lineage,
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
    gate.finish(path)  # the record lane's read_rows applies the same rule itself
    acc = gate.accounting
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
