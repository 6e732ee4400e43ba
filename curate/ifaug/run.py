"""`skillmix augment-if IN OUT` as a file-to-file run."""

from __future__ import annotations

from pathlib import Path

from curate.ifaug.augment import AugmentConfig, augment_rows
from manifests import Accounting, RejectsWriter, read_rows, write_rows
from manifests.rejects import rejects_path_for


def augment_file(
    in_path: str | Path,
    out_path: str | Path,
    config: AugmentConfig,
    *,
    source: str | None = None,
    on_bad_row: str = "error",
    rejects_path: str | Path | None = None,
    lineage: str | None = None,
) -> Accounting:
    """Write one IFEval-constrained `rlvr` row per input prompt; returns the accounting
    (in = out + removed + rejected, over every input row). `lineage`: the file name rows
    record (read_rows; default `in_path` as given).

    Input rows of any shape are read as `prompt` rows (rows with answers give the turns up
    to their last user turn; an rlvr row's check moves into metadata); a row with no user
    turn is a bad row.
    """
    read_acc, stage_acc = Accounting(), Accounting()
    rejects_file = rejects_path or rejects_path_for(out_path)
    with RejectsWriter(rejects_file) as rejects:
        rows = read_rows(
            in_path,
            "prompt",
            source=source,
            on_bad_row=on_bad_row,
            rejects=rejects,
            accounting=read_acc,
            lineage=lineage,
        )
        write_rows(augment_rows(rows, config, stage_acc), out_path, "rlvr")
    total = read_acc.then(stage_acc)
    return total
