"""Shared test helpers for the curate room: a deterministic 'model' behind a mock server."""

from __future__ import annotations

import hashlib
import json

import pytest

from curate.backends.mock_server import MockOpenAIServer


def _h(messages: list[dict]) -> int:
    return int(hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:8], 16)


def fake_model(body: dict) -> str:
    """Answers in the shape each skillmix template asks for, deterministically."""
    messages = body["messages"]
    text = messages[-1]["content"]
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    h = _h(messages)
    if "Here is a persona:" in text:
        persona = text.split("\n")[1]
        return f"Sure.\nPROBLEM: {persona} asks about case {h % 100003} of a puzzle."
    if "####" in system:
        return f"Step one.\n#### {h % 50}"
    if "Final answer" in system:
        return f"Work.\nFinal answer: \\frac{{{h % 7 + 1}}}{{2}}"
    if "```python" in system:
        return (
            "```python\ndef add_one(x):\n    return x + 1\n```\n"
            "```python\nassert add_one(1) == 2\nassert add_one(-1) == 0\n```"
        )
    return "a plain answer without capitals"


@pytest.fixture
def server():
    with MockOpenAIServer(fake_model) as srv:
        yield srv
