"""The fast lane for Parquet and Arrow sources that already hold contract-shaped columns.

`manifests.read_rows` turns every record into a dict and back; for a columnar source whose
columns already are the contract's, that round trip is most of the mixing time. Here whole
record batches are checked with vectorized tests that mirror `manifests.to_contract` and
`validate_row`; a row passes the fast lane only when `to_contract` would return it
unchanged (but for `source`, `skill` and lineage, which are set here the same way). Every
other row goes through `to_contract` itself, so both lanes give the same rows and the same
errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from manifests import canonical_json, detect_kind, schema_for
from manifests.adapters import lineage_file
from manifests.readers import detect_format
from manifests.schemas import MESSAGE_FIELDS, MESSAGES_TYPE, ROLES

BATCH_ROWS = 16384
STRING_TYPES = (pa.string(), pa.large_string())
DEFAULT_SKILL = "general"
# Lineage keys that manifests.adapters sets when a row first enters skillmix.
LINEAGE_MARKERS = ('"file":', '"row":')


@dataclass(frozen=True)
class ColumnarSource:
    """A Parquet/Arrow file whose columns can be taken as contract columns."""

    path: str
    format: str
    columns: tuple[str, ...]  # the contract columns it has


def _castable(value_type: pa.DataType, target: pa.DataType) -> bool:
    try:
        pa.array([], type=value_type).cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    return True


def file_schema(path: str, fmt: str) -> pa.Schema:
    if fmt == "parquet":
        return pq.read_schema(path)
    with pa.memory_map(path, "r") as source:
        try:
            return pa.ipc.open_file(source).schema
        except pa.ArrowInvalid:
            source.seek(0)
            return pa.ipc.open_stream(source).schema


def kind_of_columns(path: str) -> str | None:
    """The row kind a columnar file's column names suggest, or None for other inputs."""
    try:
        fmt = detect_format(path)
    except ValueError:
        return None
    if fmt not in ("parquet", "arrow"):
        return None
    kind = detect_kind(dict.fromkeys(file_schema(path, fmt).names))
    # A bare `messages` column holds sft rows or prompts: the rows decide, not the columns.
    return None if kind == "sft" else kind


def columnar_source(path: str, kind: str) -> ColumnarSource | None:
    """The fast-lane description of `path`, or None when it must go through read_rows."""
    try:
        fmt = detect_format(path)
    except ValueError:
        return None
    if fmt not in ("parquet", "arrow"):
        return None
    schema = file_schema(path, fmt)
    names = set(schema.names)
    required = set(MESSAGE_FIELDS[kind]) | (
        {"ground_truth", "verifier"} if kind == "rlvr" else set()
    )
    if not required <= names:
        return None
    if kind == "preference" and "prompt" in names:
        return None  # to_contract prepends the prompt turns: leave that to it
    if kind == "prompt" and names & {"ground_truth", "chosen", "completion", "output"}:
        return None  # to_contract moves the check into metadata and counts dropped turns
    columns = []
    for name in schema_for(kind).names:
        if name not in names:
            continue
        target = MESSAGES_TYPE if name in MESSAGE_FIELDS[kind] else pa.string()
        field_type = schema.field(name).type
        if target == pa.string() and field_type not in STRING_TYPES:
            return None
        if not _castable(field_type, target):
            return None
        columns.append(name)
    return ColumnarSource(path, fmt, tuple(columns))


def iter_batches(source: ColumnarSource) -> Iterator[pa.RecordBatch]:
    """The file's contract columns, a record batch at a time (streamed)."""
    columns = list(source.columns)
    if source.format == "parquet":
        # One decoding thread per file: the mixer reads several sources at once instead.
        # Buffered page reads instead of whole column chunks keep memory near one batch.
        parquet = pq.ParquetFile(source.path, pre_buffer=False, buffer_size=1 << 22)
        yield from parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=False)
        return
    with pa.memory_map(source.path, "r") as mm:
        try:
            reader = pa.ipc.open_file(mm)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid:
            mm.seek(0)
            batches = iter(pa.ipc.open_stream(mm))
        for batch in batches:
            yield batch.select(columns)


def _present_text(column: pa.Array) -> np.ndarray:
    """True where a string is set and not blank."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.fill_null(pc.greater(pc.utf8_length(trimmed), 0), False).to_numpy(
        zero_copy_only=False
    )


def _messages_ok(messages: pa.Array, kind: str, field: str) -> np.ndarray:
    """Rows whose message list passes the contract checks of `kind` for `field`."""
    n = len(messages)
    lengths = pc.fill_null(pc.list_value_length(messages), 0).to_numpy(zero_copy_only=False)
    ok = lengths > 0
    flat = pc.list_flatten(messages)
    parents = pc.list_parent_indices(messages).to_numpy(zero_copy_only=False)
    roles = pc.struct_field(flat, "role")
    contents = pc.struct_field(flat, "content")
    good_turn = pc.and_(
        pc.fill_null(pc.is_in(roles, value_set=pa.array(sorted(ROLES))), False),
        pc.is_valid(contents),
    ).to_numpy(zero_copy_only=False)
    bad_per_row = np.bincount(parents[~good_turn], minlength=n) if len(parents) else np.zeros(n)
    ok &= bad_per_row == 0
    role_values = pc.fill_null(roles, "").to_numpy(zero_copy_only=False)
    if kind == "sft":
        ok &= np.bincount(parents[role_values == "assistant"], minlength=n) > 0
    elif kind == "rlvr":
        ok &= np.bincount(parents[role_values == "user"], minlength=n) > 0
    elif kind == "prompt":
        ends = np.cumsum(lengths) - 1
        last_is_user = np.zeros(n, dtype=bool)
        has = lengths > 0
        last_is_user[has] = role_values[ends[has]] == "user"
        ok &= last_is_user
    elif kind == "preference":
        ends = np.cumsum(lengths) - 1
        last_is_assistant = np.zeros(n, dtype=bool)
        has = lengths > 0
        last_is_assistant[has] = role_values[ends[has]] == "assistant"
        ok &= last_is_assistant & (lengths >= 2)  # a lone answer needs a prompt column
    return ok


def fast_lane_mask(batch: pa.RecordBatch, kind: str, *, skill_given: bool) -> np.ndarray:
    """Rows that `to_contract` would keep as they are (source, skill, lineage aside)."""
    n = batch.num_rows
    names = batch.schema.names
    ok = np.ones(n, dtype=bool)
    ok &= _present_text(batch.column("id")) if "id" in names else False
    if not skill_given and "skill" in names:
        skill = batch.column("skill")
        set_not_empty = pc.fill_null(pc.greater(pc.utf8_length(skill), 0), False)
        ok &= ~(set_not_empty.to_numpy(zero_copy_only=False) & ~_present_text(skill))
    for field in MESSAGE_FIELDS[kind]:
        messages = batch.column(field)
        if messages.type != MESSAGES_TYPE:
            messages = messages.cast(MESSAGES_TYPE)
        ok &= _messages_ok(messages, kind, field)
    if kind == "rlvr":
        ok &= _present_text(batch.column("ground_truth"))
        verifier = batch.column("verifier")
        ok &= _present_text(verifier)
        ok &= pc.fill_null(pc.equal(verifier, pc.utf8_lower(verifier)), False).to_numpy(
            zero_copy_only=False
        )
    if "metadata" in names:
        meta = batch.column("metadata")
        empty = pc.fill_null(pc.equal(pc.utf8_length(meta), 0), True)
        lineage = pc.and_(
            *(pc.fill_null(pc.match_substring(meta, m), False) for m in LINEAGE_MARKERS)
        )
        ok &= pc.or_(empty, lineage).to_numpy(zero_copy_only=False)
    return ok


def contract_table(
    batch: pa.RecordBatch,
    kind: str,
    *,
    source: str,
    skill: str | None,
    file: str,
    first_row: int,
) -> pa.Table:
    """Fast-lane rows of `batch` as a contract table: source, skill and lineage filled in."""
    n = batch.num_rows
    names = batch.schema.names
    schema = schema_for(kind)
    columns = {}
    for name in schema.names:
        if name == "source":
            columns[name] = pa.repeat(pa.scalar(source, pa.string()), n)
        elif name == "skill":
            if skill is not None or "skill" not in names:
                value = skill or DEFAULT_SKILL
                columns[name] = pa.repeat(pa.scalar(value, pa.string()), n)
            else:
                given = batch.column("skill").cast(pa.string())
                blank = pc.fill_null(pc.equal(pc.utf8_length(given), 0), True)
                columns[name] = pc.if_else(blank, pa.scalar(DEFAULT_SKILL), given)
        elif name == "metadata":
            columns[name] = _metadata_column(batch, file, first_row)
        elif name in names:
            columns[name] = batch.column(name).cast(schema.field(name).type)
        else:  # no such column (an `id`): no row is in the fast lane, the lane drops them all
            columns[name] = pa.nulls(n, schema.field(name).type)
    return pa.Table.from_pydict(columns, schema=schema)


def _metadata_column(batch: pa.RecordBatch, file: str, first_row: int) -> pa.Array:
    """Existing lineage kept; where none is set, {"file": FILE, "row": N} as to_contract does."""
    n = batch.num_rows
    head = canonical_json({"file": lineage_file(file)})[:-1] + ',"row":'
    rows = pc.cast(pa.array(np.arange(first_row, first_row + n, dtype=np.int64)), pa.string())
    made = pc.binary_join_element_wise(pa.scalar(head), rows, pa.scalar("}"), pa.scalar(""))
    if "metadata" not in batch.schema.names:
        return made
    given = batch.column("metadata").cast(pa.string())
    empty = pc.fill_null(pc.equal(pc.utf8_length(given), 0), True)
    return pc.if_else(empty, made, given)
