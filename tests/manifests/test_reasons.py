"""One vocabulary of removal reasons: Accounting refuses any other name, old names written
by earlier versions read as today's, and every reason the code gives is in the vocabulary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from manifests import Accounting
from manifests.reasons import REASONS, RENAMED

ROOT = Path(__file__).parents[2]


def test_remove_refuses_a_reason_outside_the_vocabulary():
    acc = Accounting(rows_in=2)
    acc.remove("duplicate_near")
    with pytest.raises(ValueError, match=r"unknown removal reason 'dedup_minhash'"):
        acc.remove("dedup_minhash")
    with pytest.raises(ValueError, match=r"unknown removal reason 'doublon_proche'"):
        Accounting(removed={"doublon_proche": 1})
    assert acc.removed == {"duplicate_near": 1}


def test_old_names_in_files_read_as_todays_names():
    old = {
        "rows_in": 9,
        "rows_out": 2,
        "removed": {
            "dedup_minhash": 2,
            "duplicate_minhash": 1,
            "dedup_exact": 1,
            "decontaminated": 3,
        },
        "rejected": 0,
    }
    acc = Accounting.from_dict(old)
    assert acc.removed == {"duplicate_near": 3, "duplicate_exact": 1, "contaminated": 3}
    acc.check()
    with pytest.raises(ValueError, match="unknown removal reason 'gone'"):
        Accounting.from_dict({**old, "removed": {"gone": 7}})


def test_every_old_name_maps_into_the_vocabulary_and_is_not_in_it():
    assert set(RENAMED.values()) <= set(REASONS)
    assert not set(RENAMED) & set(REASONS)


def test_every_literal_reason_in_the_code_is_in_the_vocabulary():
    # Reasons computed at run time meet Accounting.remove's check in their own tests; this
    # catches the literal ones in code paths a test may not reach.
    named = set()
    for folder in ("curate", "decontam", "mixers", "trainers", "skillmix"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            named |= set(re.findall(r"\.remove\(\s*\"([a-z_]+)\"", text))
            named |= set(re.findall(r"\(\"([a-z_]+)\", (?:e|n|mask|entry)\b", text))
    assert {"duplicate_exact", "duplicate_near", "contaminated", "not_drawn"} <= named
    assert named <= set(REASONS), named - set(REASONS)


def test_the_docs_list_every_reason_with_its_meaning():
    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    for reason, meaning in REASONS.items():
        assert f"| `{reason}` | {meaning} |" in text, reason


def test_a_read_then_a_step_joins_into_one_balanced_accounting():
    read = Accounting(rows_in=5, rows_out=4, removed={"duplicate_prompt": 0}, rejected=1)
    step = Accounting(rows_in=4, rows_out=2, removed={"duplicate_exact": 1}, rejected=1)
    total = read.then(step)
    assert total.to_dict() == {
        "rows_in": 5,
        "rows_out": 2,
        "removed": {"duplicate_exact": 1, "duplicate_prompt": 0},
        "rejected": 2,
    }
    with pytest.raises(AssertionError, match="does not balance"):
        read.then(Accounting(rows_in=4, rows_out=4, removed={"not_drawn": 1}))
