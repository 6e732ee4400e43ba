"""Shared helpers: contract rows and a pool of real-looking unrelated text."""

from __future__ import annotations

import inspect
import json
import random
from pathlib import Path

import pytest

GSM_LIKE = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
    "in May. How many clips did Natalia sell altogether in April and May?",
    "Weng earns 12 dollars an hour for babysitting. Yesterday, she just did 50 minutes of "
    "babysitting. How much did she earn for the time she spent watching the children?",
    "Betty is saving money for a new wallet which costs 100 dollars. Betty has only half of "
    "the money she needs. Her parents decided to give her 15 dollars for that purpose, and her "
    "grandparents twice as much as her parents. How much more money does Betty need?",
    "James writes a 3-page letter to 2 different friends twice a week. How many pages does he "
    "write a year if every letter is carefully revised before he sends it to the post office?",
    "Mark has a garden with flowers. He planted plants of three different colors in it. Ten of "
    "them are yellow, and there are 80% more of those in purple. There are only 25% as many "
    "green flowers as there are yellow and purple flowers. How many flowers does Mark have?",
]


def sft_row(i: int, text: str, source: str = "pool", answer: str = "Sure.") -> dict:
    return {
        "id": f"{source}-{i}",
        "source": source,
        "skill": "general",
        "messages": [
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer},
        ],
        "metadata": "{}",
    }


def _stdlib_paragraphs() -> list[str]:
    import importlib

    names = (
        "argparse asyncio collections decimal email fractions http.client json logging os "
        "pathlib re shutil statistics subprocess tarfile textwrap unittest zipfile"
    )
    docs = []
    for module in map(importlib.import_module, names.split()):
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj) or ""
            docs.extend(p for p in doc.split("\n\n") if len(p.split()) >= 20)
    return sorted(set(docs))


@pytest.fixture(scope="session")
def make_row():
    return sft_row


@pytest.fixture(scope="session")
def gsm_questions() -> list[str]:
    return list(GSM_LIKE)


@pytest.fixture(scope="session")
def pool_texts() -> list[str]:
    """Real English text unrelated to the evaluation instances: stdlib docstrings."""
    texts = _stdlib_paragraphs()
    random.Random(0).shuffle(texts)
    return texts[:400]


@pytest.fixture
def gsm_eval(tmp_path: Path) -> str:
    path = tmp_path / "gsm.jsonl"
    with open(path, "w") as fh:
        for i, q in enumerate(GSM_LIKE):
            fh.write(json.dumps({"id": f"g{i}", "question": q}) + "\n")
    return f"gsm={path}:question"
