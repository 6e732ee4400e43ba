"""Streaming readers: every supported input yields raw records one at a time.

A reader never loads a whole file: JSONL is read line by line (plain, gzip, zstd),
Parquet and Arrow by record batch, CSV row by row, `save_to_disk` folders through their
memory map, and hub datasets with `streaming=True`. Each record comes as a `RawRecord`;
a record that cannot be parsed carries its `error` instead of `data`, so the caller
decides whether to stop or to reject it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from manifests.errors import BadRowError
from manifests.hub_errors import hub_failure

HUB_PREFIX = "hf://"
BOM = b"\xef\xbb\xbf"
BATCH_ROWS = 1024


@dataclass
class RawRecord:
    file: str
    row: int  # 1-based line for JSONL/CSV, 0-based index for columnar inputs
    data: dict[str, Any] | None
    error: str | None = None
    raw: Any = None


@dataclass(frozen=True)
class HubSpec:
    name: str
    config: str | None
    split: str


def parse_hub_spec(spec: str) -> HubSpec:
    """`hf://NAME[:CONFIG][@SPLIT]` (split defaults to train)."""
    body = spec[len(HUB_PREFIX) :]
    split = "train"
    if "@" in body:
        body, split = body.rsplit("@", 1)
    config = None
    if ":" in body:
        body, config = body.split(":", 1)
    if not body or not split or config == "":
        raise ValueError(f"bad hub dataset {spec!r}: expected hf://NAME[:CONFIG][@SPLIT]")
    return HubSpec(body, config, split)


def detect_format(path: str) -> str:
    if path.startswith(HUB_PREFIX):
        return "hub"
    p = Path(path)
    if p.is_dir():
        if (p / "state.json").exists() or (p / "dataset_dict.json").exists():
            return "disk"
        raise BadRowError(path, None, "folder is not a `save_to_disk` dataset (no state.json)")
    name = p.name.lower()
    for suffix in (".gz", ".zst", ".zstd"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    for ext, fmt in (
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "json"),
        (".parquet", "parquet"),
        (".arrow", "arrow"),
        (".ipc", "arrow"),
        (".feather", "arrow"),
        (".csv", "csv"),
    ):
        if name.endswith(ext):
            return fmt
    raise BadRowError(
        path,
        None,
        "unknown file type: use .jsonl[.gz|.zst], .json, .parquet, "
        ".arrow, .csv, a save_to_disk folder or hf://NAME",
    )


def open_binary(path: str) -> IO[bytes]:
    """Open a file for reading, decompressing .gz and .zst transparently."""
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith((".zst", ".zstd")):
        return io.BufferedReader(_ZstdReader(open(path, "rb")))
    return open(path, "rb")


class _ZstdReader(io.RawIOBase):
    """A zstd stream, frame after frame, that raises EOFError when the file ends inside a
    frame (zstandard's own stream reader returns the partial data without a word)."""

    def __init__(self, raw: IO[bytes]) -> None:
        import zstandard

        self._raw = raw
        self._new = zstandard.ZstdDecompressor().decompressobj
        self._dobj = self._new()
        self._pending = memoryview(b"")  # decompressed bytes not yet handed out
        self._started = False  # bytes of the current frame were fed

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        """Decompress the next input chunk; False at the end of the file."""
        chunk = self._raw.read(1 << 16)
        if not chunk:
            if self._started and not self._dobj.eof:
                raise EOFError("the file ends inside a zstd frame (truncated)")
            return False
        parts = []
        while chunk:
            if self._dobj.eof:  # a new frame follows the one just finished
                self._dobj = self._new()
            self._started = True
            parts.append(self._dobj.decompress(chunk))
            chunk = self._dobj.unused_data if self._dobj.eof else b""
        self._pending = memoryview(b"".join(parts))
        return True

    def readinto(self, buffer: Any) -> int:
        while not len(self._pending):
            if not self._fill():
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]  # a view: nothing is copied
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _surrogate_problem(value: Any) -> str | None:
    """A `\\ud800` escape decodes to a lone surrogate, which no UTF-8 output can hold."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"invalid Unicode: a lone surrogate escape (\\u{ord(exc.object[exc.start]):04x})"
            " that is half of no character"
        )
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_json_line(path: str, lineno: int, line: bytes) -> RawRecord:
    if lineno == 1 and line.startswith(BOM):
        line = line[len(BOM) :]  # a UTF-8 byte-order mark is not part of the first row
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RawRecord(path, lineno, None, f"invalid UTF-8 at byte {exc.start}", line)
    try:
        # NaN/Infinity are not JSON: such a row is rejected rather than written back invalid.
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return RawRecord(
            path, lineno, None, f"malformed JSON: {exc.msg} (column {exc.colno})", text
        )
    except RecursionError:
        return RawRecord(path, lineno, None, "JSON nested too deeply", text[:200])
    except ValueError as exc:
        return RawRecord(path, lineno, None, f"malformed JSON: {exc}", text)
    if not isinstance(value, dict):
        return RawRecord(
            path, lineno, None, f"expected a JSON object, got {type(value).__name__}", value
        )
    problem = _surrogate_problem(value) if _SURROGATE_ESCAPE.search(text) else None
    if problem:
        return RawRecord(path, lineno, None, problem, text)
    return RawRecord(path, lineno, value)


def _damaged(path: str, lineno: int | None, exc: Exception) -> BadRowError:
    after = f" after line {lineno}" if lineno else ""
    return BadRowError(path, None, f"damaged or truncated file{after}: {type(exc).__name__}: {exc}")


def _file_problem(path: str, exc: OSError) -> BadRowError:
    return BadRowError(path, None, f"cannot read: {exc.strerror or exc}")


def read_jsonl(path: str) -> Iterator[RawRecord]:
    lineno = 0
    try:
        with open_binary(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.strip():
                    yield _parse_json_line(path, lineno, line)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _damaged(path, lineno, exc) from None
    except (IsADirectoryError, PermissionError) as exc:
        raise _file_problem(path, exc) from None
    except Exception as exc:  # zstandard.ZstdError and friends
        if type(exc).__module__.startswith("zstd"):
            raise _damaged(path, lineno, exc) from None
        raise


def read_json(path: str) -> Iterator[RawRecord]:
    """A `.json` file: JSON lines, or one array (an array is parsed whole, not streamed)."""
    try:
        with open_binary(path) as fh:
            head = fh.read(4096).removeprefix(BOM).lstrip()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _damaged(path, None, exc) from None
    if not head.startswith(b"["):
        yield from read_jsonl(path)
        return
    with open_binary(path) as fh:
        try:
            text = fh.read().removeprefix(BOM).decode("utf-8")
            values = json.loads(text, parse_constant=_no_constant)
        except RecursionError:
            raise BadRowError(path, None, "JSON nested too deeply") from None
        except (UnicodeDecodeError, ValueError, EOFError, zlib.error) as exc:
            raise BadRowError(path, None, f"malformed JSON array: {exc}") from None
    escapes = _SURROGATE_ESCAPE.search(text) is not None
    for i, value in enumerate(values):
        problem = _surrogate_problem(value) if escapes and isinstance(value, dict) else None
        if problem:
            yield RawRecord(path, i, None, problem, json.dumps(value))  # escaped: writable
        elif isinstance(value, dict):
            yield RawRecord(path, i, value)
        else:
            yield RawRecord(
                path, i, None, f"expected a JSON object, got {type(value).__name__}", value
            )


def _batches_to_records(path: str, batches: Iterator[pa.RecordBatch]) -> Iterator[RawRecord]:
    index = 0
    for batch in batches:
        for record in batch.to_pylist():
            yield RawRecord(path, index, record)
            index += 1


def read_parquet(path: str) -> Iterator[RawRecord]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise BadRowError(path, None, f"not a readable Parquet file: {exc}") from None
    try:
        yield from _batches_to_records(path, pf.iter_batches(batch_size=BATCH_ROWS))
    except (pa.ArrowException, OSError) as exc:
        raise BadRowError(path, None, f"damaged Parquet file: {exc}") from None


def _ipc_batches(path: str) -> Iterator[pa.RecordBatch]:
    source = pa.memory_map(path, "r")
    try:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)
    except pa.ArrowInvalid:
        source.seek(0)
        try:
            yield from pa.ipc.open_stream(source)
        except pa.ArrowInvalid as exc:
            raise BadRowError(path, None, f"not a readable Arrow IPC file: {exc}") from None


def read_arrow(path: str) -> Iterator[RawRecord]:
    try:
        yield from _batches_to_records(path, _ipc_batches(path))
    except (pa.ArrowException, OSError) as exc:
        raise BadRowError(path, None, f"not a readable Arrow IPC file: {exc}") from None


def _decoded_lines(fh: IO[bytes]) -> Iterator[str]:
    # surrogateescape keeps bad bytes visible as lone surrogates, so the row that holds
    # them can be rejected by itself instead of ending the whole file.
    for line in fh:
        yield line.decode("utf-8", errors="surrogateescape")


def _has_bad_utf8(values: list[str]) -> bool:
    return any(any("\udc80" <= ch <= "\udcff" for ch in v) for v in values if v)


def read_csv(path: str) -> Iterator[RawRecord]:
    """CSV with a header row. Nested fields (messages) are JSON strings in their cells."""
    try:
        yield from _read_csv(path)
    except (EOFError, gzip.BadGzipFile, zlib.error, csv.Error) as exc:
        raise _damaged(path, None, exc) from None


def _read_csv(path: str) -> Iterator[RawRecord]:
    with open_binary(path) as fh:
        reader = csv.reader(_decoded_lines(fh))
        header = next(reader, None)
        if header is None:
            return
        if header:
            header[0] = header[0].removeprefix("\ufeff")
        if _has_bad_utf8(header):
            raise BadRowError(path, 1, "invalid UTF-8 in the header")
        for cells in reader:
            lineno = reader.line_num
            if not cells:
                continue
            if _has_bad_utf8(cells):
                yield RawRecord(path, lineno, None, "invalid UTF-8", cells)
            elif len(cells) != len(header):
                yield RawRecord(
                    path, lineno, None, f"{len(cells)} fields, the header has {len(header)}", cells
                )
            else:
                yield RawRecord(path, lineno, dict(zip(header, cells, strict=True)))


def _split_of(dataset: Any, path: str, split: str | None) -> Any:
    import datasets

    if isinstance(dataset, datasets.DatasetDict | datasets.IterableDatasetDict):
        split = split or ("train" if "train" in dataset else None)
        if split not in dataset:
            raise BadRowError(path, None, f"no split {split!r}; it has {sorted(dataset)}")
        return dataset[split]
    return dataset


def _iter_dataset(path: str, dataset: Any) -> Iterator[RawRecord]:
    for index, record in enumerate(dataset):
        yield RawRecord(path, index, dict(record))


def read_disk(path: str) -> Iterator[RawRecord]:
    import datasets

    dataset = _split_of(datasets.load_from_disk(path), path, None)
    yield from _iter_dataset(path, dataset)


def read_hub(spec: str) -> Iterator[RawRecord]:
    """A hub dataset (or a local dataset folder/script) through `datasets.load_dataset`.
    Any failure of the hub or the loader is a BadRowError naming the problem and the fix."""
    import datasets

    hub = parse_hub_spec(spec)
    rows = 0
    try:
        dataset = datasets.load_dataset(hub.name, hub.config, split=hub.split, streaming=True)
        for record in dataset:
            yield RawRecord(spec, rows, dict(record))
            rows += 1
    except Exception as exc:  # every loader failure becomes one named line
        problem = hub_failure(hub.name, hub.config, hub.split, exc)
        raise BadRowError(
            spec, None, f"after {rows} rows: {problem}" if rows else problem
        ) from None


READERS = {
    "jsonl": read_jsonl,
    "json": read_json,
    "parquet": read_parquet,
    "arrow": read_arrow,
    "csv": read_csv,
    "disk": read_disk,
    "hub": read_hub,
}


def _check_readable(path: str) -> None:
    p = Path(path)
    if not p.exists():
        raise BadRowError(path, None, "no such file or folder")
    if not p.is_dir() and not p.is_file():
        raise BadRowError(path, None, "not a regular file (a FIFO, socket or device)")
    if not os.access(path, os.R_OK):
        raise BadRowError(path, None, "permission denied")


def read_records(path: str | Path) -> Iterator[RawRecord]:
    """Raw records of any supported input, streamed. An empty input is an error."""
    path = str(path)
    if not path.startswith(HUB_PREFIX):
        _check_readable(path)
    seen = False
    for record in READERS[detect_format(path)](path):
        seen = True
        yield record
    if not seen:
        raise BadRowError(path, None, "empty input: no rows")
