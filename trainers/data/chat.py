"""Chat formatting and assistant-only label masking.

A conversation is rendered with the tokenizer's chat template (or a built-in Tülu-style
one). Assistant spans are found on the rendered *string*: the span of turn i runs from
the end of `render(messages[:i], add_generation_prompt=True)` to the end of
`render(messages[:i+1])`, so it holds the reply and the end-of-turn token. Tokens are then
labeled by their character offsets: every token whose text overlaps a span, so a token that
BPE merged across the span's start (the generation prompt's trailing space with the reply's
first word) is labeled, as transformers' assistant-token mask does.
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
        prompt = render(tokenizer, messages[:i], add_generation_prompt=True)
        prefix = text if i == len(messages) - 1 else render(tokenizer, messages[: i + 1])
        start, end = len(prompt), len(prefix)
        if not (text.startswith(prefix) and prefix.startswith(prompt)):
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
    return tokenize_conversations(tokenizer, [messages], max_length, last_only=last_only)[0]


def tokenize_conversations(
    tokenizer,
    conversations: Sequence[Sequence[dict]],
    max_length: int,
    *,
    last_only: bool = False,
) -> list[Tokenized]:
    """Many conversations in one tokenizer call (the fast tokenizer runs them in parallel)."""
    rendered = [assistant_spans(tokenizer, m, last_only=last_only) for m in conversations]
    enc = tokenizer(
        [text for text, _ in rendered],
        add_special_tokens=False,
        return_offsets_mapping=True,
        truncation=False,
    )
    return [
        _label(ids, offsets, spans, max_length)
        for ids, offsets, (_, spans) in zip(
            enc["input_ids"], enc["offset_mapping"], rendered, strict=True
        )
    ]


def _label(
    ids: list[int], offsets: list[tuple[int, int]], spans: list[tuple[int, int]], max_length: int
) -> Tokenized:
    # int32 arrays: a large mix held in memory costs 8 bytes per token, not ~70 in lists.
    token_ids = np.asarray(ids[:max_length], dtype=np.int32)
    bounds = np.asarray(offsets[: len(token_ids)], dtype=np.int64).reshape(-1, 2)
    starts, ends = bounds[:, 0], bounds[:, 1]
    inside = np.zeros(len(token_ids), dtype=bool)
    for start, end in spans:
        # A token is labeled when its text reaches into the span, not only when it starts
        # there: a generation prompt ending in a space that BPE merges into the reply's
        # first word (" seven") starts that token inside the prompt.
        inside |= (ends > start) & (starts < end)
    inside &= ends > starts  # special tokens added without text have empty offsets
    labels = np.where(inside, token_ids, IGNORE_INDEX).astype(np.int32)
    return Tokenized(input_ids=token_ids, labels=labels)
