"""Tiny sources and recipes for the mixer tests."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from manifests import schema_for


def sft_row(i: int, skill: str, prompt: str | None = None) -> dict:
    return {
        "id": f"{skill}-{i}",
        "source": "raw",
        "skill": skill,
        "messages": [
            {
                "role": "user",
                "content": prompt or f"{skill} question number {i}: what is {i} + {i}?",
            },
            {"role": "assistant", "content": f"It is {2 * i}."},
        ],
        "metadata": "",
    }


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_parquet(path: Path, rows: list[dict], kind: str = "sft") -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema_for(kind)), path, row_group_size=7)
    return path


class Workspace:
    """A folder with sources and a helper to write recipes that use them."""

    row = staticmethod(sft_row)

    def __init__(self, root: Path) -> None:
        self.root = root

    def jsonl(self, name: str, rows: list[dict]) -> Path:
        return write_jsonl(self.root / name, rows)

    def parquet(self, name: str, rows: list[dict], kind: str = "sft") -> Path:
        return write_parquet(self.root / name, rows, kind)

    def recipe(self, sources: list[dict], name: str = "recipe.yaml", **keys) -> Path:
        data = {"name": "test-mix", "seed": 7, "kind": "sft", "sources": sources, **keys}
        path = self.root / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def standard(self) -> Path:
        """Three sources, three formats, distinct prompts: a recipe with every take mode."""
        self.jsonl("math.jsonl", [sft_row(i, "math") for i in range(40)])
        self.parquet("code.parquet", [sft_row(i, "code") for i in range(30)])
        self.jsonl("chat.jsonl", [sft_row(i, "chat") for i in range(25)])
        return self.recipe(
            [
                {"name": "math", "path": "math.jsonl", "take": {"fraction": 0.5}},
                {"name": "code", "path": "code.parquet", "take": {"count": 12}},
                {"name": "chat", "path": "chat.jsonl", "take": {"weight": 1.0}},
            ],
            total=50,
            shards={"max_rows": 16},
        )


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    folder = tmp_path / "ws"
    folder.mkdir()
    return Workspace(folder)
