"""Write a benchmark's results into its own section of docs/benchmarks.md.

Each benchmark owns the text between `<!-- NAME:start -->` and `<!-- NAME:end -->`;
the section is created at the end of the file when it is missing.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine_line() -> str:
    """One line naming the machine, date and Python, for the record."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"date {dt.date.today().isoformat()}; command `{' '.join(['python', *sys.argv])}`"
    )


def write_section(name: str, markdown: str, doc: Path = DOC) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)
