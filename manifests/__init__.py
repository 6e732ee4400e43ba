"""The contracts: row schemas, readers and writers of rows, accounting, rejects."""

from manifests.accounting import Accounting
from manifests.adapters import detect_kind, prompt_row, prompt_turns, to_contract
from manifests.convert import convert_file, export_file
from manifests.errors import BadRowError, NoValidRowsError, UsageError
from manifests.gate import ON_BAD_ROW, RowGate, check_on_bad_row
from manifests.ids import canonical_json, stable_id
from manifests.readers import read_records
from manifests.rejects import RejectsWriter
from manifests.rows import read_rows
from manifests.schemas import KINDS, MESSAGES_TYPE, schema_for
from manifests.stats import inspect_inputs
from manifests.text import row_messages, row_text
from manifests.validate import validate_row
from manifests.writers import RowWriter, write_rows

__all__ = [
    "KINDS",
    "MESSAGES_TYPE",
    "ON_BAD_ROW",
    "Accounting",
    "BadRowError",
    "NoValidRowsError",
    "RejectsWriter",
    "RowGate",
    "RowWriter",
    "UsageError",
    "canonical_json",
    "check_on_bad_row",
    "convert_file",
    "detect_kind",
    "export_file",
    "inspect_inputs",
    "prompt_row",
    "prompt_turns",
    "read_records",
    "read_rows",
    "row_messages",
    "row_text",
    "schema_for",
    "stable_id",
    "to_contract",
    "validate_row",
    "write_rows",
]
