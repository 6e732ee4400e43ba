"""Chat formatting and assistant-only label masking.

A conversation is rendered with the tokenizer's chat template (or a built-in Tülu-style
one). Assistant spans are found on the rendered *string*: the span of turn i runs from
the end of `render(messages[:i], add_generation_prompt=True)` to the end of
`render(messages[:i+1])`, so it holds the reply and the end-of-turn token. Tokens are then
labeled by their character offsets, which stays right even when BPE merges across a span edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = -100

# Tülu-style template: every assistant turn ends with the EOS token, which is labeled.
TULU_TEMPLATE = (
    "{{ bos_token if bos_token else '' }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + '\n' }}"
    "{% elif message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + '\n' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\n' + message['content'] + eos_token }}"
    "{% if not loop.last %}{{ '\n' }}{% endif %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Tokenized:
    """One conversation: token ids and labels (IGNORE_INDEX where no loss is taken)."""

    input_ids: Sequence[int]  # a list or a 1-D integer array
    labels: Sequence[int]

    @property
    def num_labels(self) -> int:
        return int(np.count_nonzero(np.asarray(self.labels) != IGNORE_INDEX))


def ensure_chat_template(tokenizer) -> None:
    """Give the tokenizer the built-in template when it has none, and a pad token."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = TULU_TEMPLATE
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token


def render(tokenizer, messages: Sequence[dict], *, add_generation_prompt: bool = False) -> str:
    turns = [{"role": m["role"], "content": m["content"]} for m in messages]
    return tokenizer.apply_chat_template(
        turns, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def assistant_spans(
    tokenizer, messages: Sequence[dict], *, last_only: bool = False
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered text and the character spans of its assistant turns."""
    text = render(tokenizer, messages)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(render(tokenizer, messages[:i], add_generation_prompt=True))
        end = len(render(tokenizer, messages[: i + 1]))
        prefix = render(tokenizer, messages[: i + 1])
        if not text.startswith(prefix) or start > end:
            raise ValueError(
                "chat template is not prefix-stable (rendering a conversation's first turns "
                "does not give a prefix of the whole), so assistant tokens cannot be located"
            )
        spans.append((start, end))
    if last_only and spans:
        spans = spans[-1:]
    return text, spans


def tokenize_conversation(
    tokenizer, messages: Sequence[dict], max_length: int, *, last_only: bool = False
) -> Tokenized:
    """Token ids and labels: loss only on assistant tokens, truncated to `max_length`."""
    text, spans = assistant_spans(tokenizer, messages, last_only=last_only)
    enc = tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True, truncation=False
    )
    # int32 arrays: a large mix held in memory costs 8 bytes per token, not ~70 in lists.
    ids = np.asarray(enc["input_ids"][:max_length], dtype=np.int32)
    offsets = np.asarray(enc["offset_mapping"][: len(ids)], dtype=np.int64).reshape(-1, 2)
    starts, ends = offsets[:, 0], offsets[:, 1]
    inside = np.zeros(len(ids), dtype=bool)
    for start, end in spans:
        inside |= (starts >= start) & (starts < end)
    inside &= ends > starts  # special tokens added without text have empty offsets
    labels = np.where(inside, ids, IGNORE_INDEX).astype(np.int32)
    return Tokenized(input_ids=ids, labels=labels)
