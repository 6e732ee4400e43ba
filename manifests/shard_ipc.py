"""Arrow IPC shard files that both `datasets` and `polars` open.

`datasets.Dataset.from_file` reads the Arrow IPC *stream* format; `polars.read_ipc` (and
`pyarrow.ipc.open_file`) read the IPC *file* format, which is the stream behind an 8-byte
magic and followed by a footer that indexes the record batches. Our shards are the stream
with the file footer appended: the leading magic is dropped and the footer's batch offsets
are shifted by its 8 bytes, so a stream reader stops at the end-of-stream marker and a file
reader finds every batch through the footer. The sha256 of the file is computed as it is
written, so no second read is needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
from pathlib import Path

import pyarrow as pa

MAGIC_LEN = 8  # b"ARROW1\0\0" at the start of an IPC file
TRAILER_LEN = 10  # int32 footer length + b"ARROW1"
BLOCK_SIZE = 24  # flatbuffer struct Block {offset: int64, metaDataLength: int32, bodyLength: int64}
FOOTER_BLOCK_FIELDS = (2, 3)  # Footer.dictionaries, Footer.recordBatches


def shift_footer_offsets(tail: bytes, shift: int) -> bytes:
    """Return `tail` (anything, then footer, length, magic) with every Block offset moved."""
    (footer_len,) = struct.unpack_from("<i", tail, len(tail) - TRAILER_LEN)
    start = len(tail) - TRAILER_LEN - footer_len
    if start < 0:
        raise ValueError("IPC footer longer than the bytes written after the last batch")
    footer = bytearray(tail[start : len(tail) - TRAILER_LEN])
    (root,) = struct.unpack_from("<I", footer, 0)
    vtable = root - struct.unpack_from("<i", footer, root)[0]
    (vtable_size,) = struct.unpack_from("<H", footer, vtable)
    for field in FOOTER_BLOCK_FIELDS:
        slot = vtable + 4 + 2 * field
        if slot + 2 > vtable + vtable_size:
            continue
        (field_offset,) = struct.unpack_from("<H", footer, slot)
        if not field_offset:
            continue
        ref = root + field_offset
        vector = ref + struct.unpack_from("<I", footer, ref)[0]
        (count,) = struct.unpack_from("<I", footer, vector)
        for i in range(count):
            at = vector + 4 + BLOCK_SIZE * i
            (offset,) = struct.unpack_from("<q", footer, at)
            struct.pack_into("<q", footer, at, offset + shift)
    return tail[:start] + bytes(footer) + tail[len(tail) - TRAILER_LEN :]


class _StreamPlusFooterSink:
    """A file-like sink for `pa.ipc.new_file` that drops the magic and hashes what it writes.

    Bytes written once `start_footer()` was called are held back, then patched and written
    by `finish()`.
    """

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "wb")  # noqa: SIM115 - closed in finish()
        self._sha = hashlib.sha256()
        self._pos = 0  # position as the IPC writer sees it (magic included)
        self._tail: bytearray | None = None
        self.closed = False
        self.bytes = 0

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        if self._pos < MAGIC_LEN:
            skip = min(MAGIC_LEN - self._pos, n)
            self._pos += skip
            view = view[skip:]
        self._pos += len(view)
        if self._tail is not None:
            self._tail += view
        elif len(view):
            self._put(view)
        return n

    def _put(self, data) -> None:
        self._fh.write(data)
        self._sha.update(data)
        self.bytes += len(data)

    def tell(self) -> int:
        return self._pos

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass  # the IPC writer closes its sink; the real close happens in finish()

    def start_footer(self) -> None:
        self._tail = bytearray()

    def finish(self) -> str:
        if self._tail is not None:
            self._put(shift_footer_offsets(bytes(self._tail), -MAGIC_LEN))
            self._tail = None
        self._fh.close()
        self.closed = True
        return self._sha.hexdigest()

    def abort(self) -> None:
        self._fh.close()
        self.closed = True


class IpcShardFile:
    """Writes record batches to one shard file; `close()` returns (bytes, sha256)."""

    def __init__(self, path: str | Path, schema: pa.Schema) -> None:
        self.path = Path(path)
        self._sink = _StreamPlusFooterSink(self.path)
        self._writer = pa.ipc.new_file(pa.PythonFile(self._sink, mode="w"), schema)

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        if isinstance(data, pa.Table):
            self._writer.write_table(data)
        else:
            self._writer.write_batch(data)

    def close(self) -> tuple[int, str]:
        self._sink.start_footer()
        self._writer.close()
        sha = self._sink.finish()
        return self._sink.bytes, sha

    def abort(self) -> None:
        with contextlib.suppress(OSError, pa.ArrowException):
            self._writer.close()
        self._sink.abort()


def open_ipc_batches(path: str | Path) -> pa.RecordBatchReader:
    """Read a shard as an IPC stream (memory mapped)."""
    return pa.ipc.open_stream(pa.memory_map(str(path), "r"))
