"""Small recipes and sources for the pipeline tests."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

LEAK = (
    "def add(a, b): return the sum of two numbers a and b, for example add(2, 3) "
    "returns 5 and add(-1, 1) returns 0 as expected by the unit tests"
)


def write_sources(folder: Path, n: int = 40) -> dict[str, Path]:
    """Two sft sources with a few exact duplicates and one planted eval leak."""
    folder.mkdir(parents=True, exist_ok=True)
    topics = [
        "rivers",
        "prime numbers",
        "bread",
        "sorting lists",
        "volcanoes",
        "poems",
        "taxes",
        "chess",
        "tides",
        "gardens",
    ]
    a = [
        {
            "instruction": f"Write {i} facts about {topics[i % 10]} for a class of {i + 7} pupils.",
            "output": f"Here are {i} facts about {topics[i % 10]}.",
        }
        for i in range(n)
    ]
    a += [dict(a[0]), dict(a[1])]  # exact duplicates
    b = [
        {
            "messages": [
                {"role": "user", "content": f"Explain {topics[i % 10]} in {i + 2} words."},
                {"role": "assistant", "content": "Sure."},
            ],
            "skill": "chat",
        }
        for i in range(n // 2)
    ]
    b.append(
        {"messages": [{"role": "user", "content": LEAK}, {"role": "assistant", "content": "ok"}]}
    )
    paths = {"alpaca": folder / "alpaca.jsonl", "chat": folder / "chat.jsonl"}
    for name, rows in (("alpaca", a), ("chat", b)):
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in rows))
    evals = folder / "evals.jsonl"
    evals.write_text(
        json.dumps({"id": "e1", "question": LEAK})
        + "\n"
        + json.dumps(
            {
                "id": "e2",
                "question": "an unrelated question about the orbit of the moon and its phases",
            }
        )
        + "\n"
    )
    return paths


def write_recipe(folder: Path, stages: list, **extra) -> Path:
    recipe = {
        "name": "t",
        "seed": 3,
        "kind": "sft",
        "sources": [
            {
                "name": "alpaca",
                "path": "alpaca.jsonl",
                "skill": "general",
                "take": {"fraction": 1.0},
            },
            {"name": "chat", "path": "chat.jsonl", "take": {"weight": 1.0}},
        ],
        "total": 15,
        "shards": {"max_rows": 10},
        "run_dir": "run",
        "stages": stages,
        **extra,
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path
