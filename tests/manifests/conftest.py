from __future__ import annotations

import pytest

SFT_ROW = {
    "id": "r1",
    "source": "unit",
    "skill": "math",
    "messages": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
    ],
    "metadata": '{"file":"x.jsonl","row":1}',
}


@pytest.fixture
def sft_row() -> dict:
    return {**SFT_ROW, "messages": [dict(m) for m in SFT_ROW["messages"]]}
