"""Personas: the project's bundled file, a local file, or a hub dataset; seeded sampling."""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path

from manifests import BadRowError, read_records

BUILTIN = "builtin"


def builtin_path() -> Path:
    return Path(str(resources.files("curate") / "data" / "personas.jsonl"))


def load_personas(
    spec: str = BUILTIN, field: str = "persona", limit: int | None = None
) -> list[str]:
    """Distinct personas, in file order.

    `spec`: "builtin" (300 personas written for skillmix), a .txt file (one per line), any
    file manifests can read (.jsonl, .parquet, ...), or hf://proj-persona/PersonaHub:persona.
    """
    path = str(builtin_path()) if spec == BUILTIN else spec
    personas: list[str] = []
    seen: set[str] = set()
    if path.endswith(".txt"):
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        candidates = ((i + 1, line.strip()) for i, line in enumerate(lines))
    else:
        candidates = _from_records(path, field)
    for _, persona in candidates:
        if persona and persona not in seen:
            seen.add(persona)
            personas.append(persona)
            if limit is not None and len(personas) >= limit:
                break
    if not personas:
        raise ValueError(f"{spec}: no personas found (field {field!r})")
    return personas


def _from_records(path: str, field: str):
    for record in read_records(path):
        if record.error is not None or record.data is None:
            raise BadRowError(record.file, record.row, record.error or "unreadable record")
        value = record.data.get(field)
        if not isinstance(value, str):
            raise BadRowError(record.file, record.row, f"no string field {field!r}")
        yield record.row, value.strip()


def sample_personas(personas: list[str], n: int, seed: int, salt: str = "") -> list[int]:
    """Indices of `n` distinct personas, drawn without replacement with `seed`."""
    if n > len(personas):
        raise ValueError(
            f"asked for {n} personas but only {len(personas)} are available "
            "(sampling is without replacement)"
        )
    return random.Random(f"{seed}:{salt}").sample(range(len(personas)), n)
