"""Span-edge labels: a generation prompt ending in text that BPE merges into the reply's
first token (here a space, merged by the byte-level pre-tokenizer into " seven") must still
leave that token labeled; the tokens of the prompt before it stay unlabeled."""

from __future__ import annotations

import pytest

from trainers.data.chat import IGNORE_INDEX, tokenize_conversation, tokenize_conversations

# The generation prompt ends in a space, as some templates do ("Assistant: ").
SPACE_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}{{ 'User: ' + m['content'] + '\n' }}"
    "{% else %}{{ 'Assistant: ' + m['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}"
)


@pytest.fixture()
def spaced(tokenizer):
    tok = tokenizer.__class__(
        tokenizer_object=tokenizer.backend_tokenizer, eos_token="</s>", pad_token="<pad>"
    )
    tok.chat_template = SPACE_TEMPLATE
    return tok


def labeled(tok, doc) -> list[int]:
    return [int(t) for t in doc.labels if t != IGNORE_INDEX]


def test_the_merge_happens_in_this_tokenizer(spaced):
    # Precondition of the tests below: " seven" is one token, so the prompt's trailing
    # space and the reply's first word share it.
    merged = spaced("Assistant: seven", add_special_tokens=False)["input_ids"]
    alone = spaced("Assistant: ", add_special_tokens=False)["input_ids"]
    assert merged[: len(alone) - 1] == alone[:-1] and merged[len(alone) - 1] != alone[-1]
    assert spaced.convert_ids_to_tokens(merged[-1]) == "Ġseven"


@pytest.mark.parametrize("reply", ["seven", "seven red boxes", "the cat sat on a mat"])
def test_first_reply_token_is_labeled_when_the_prompt_space_merges(spaced, reply):
    messages = [
        {"role": "user", "content": "what is sum of three plus four"},
        {"role": "assistant", "content": reply},
    ]
    doc = tokenize_conversation(spaced, messages, 256)
    ids = [int(t) for t in doc.input_ids]
    # The labeled run is the reply (with the merged space) and EOS, nothing of the prompt.
    assert spaced.decode(labeled(spaced, doc)) == f" {reply}</s>"
    first = next(i for i, t in enumerate(doc.labels) if t != IGNORE_INDEX)
    assert spaced.decode(ids[:first]).endswith("Assistant:")
    assert all(t == IGNORE_INDEX for t in doc.labels[:first])


def test_multi_turn_and_batch_paths_agree(spaced):
    messages = [
        {"role": "user", "content": "the cat"},
        {"role": "assistant", "content": "sat"},
        {"role": "user", "content": "two dogs"},
        {"role": "assistant", "content": "ran"},
    ]
    doc = tokenize_conversation(spaced, messages, 256)
    assert spaced.decode(labeled(spaced, doc)) == " sat</s> ran</s>"
    # The next turn's "User:" stays unlabeled.
    assert "User" not in spaced.decode(labeled(spaced, doc))
    (batched,) = tokenize_conversations(spaced, [messages], 256)
    assert labeled(spaced, batched) == labeled(spaced, doc)


def test_no_merge_template_labels_exactly_the_reply(tokenizer):
    # Control: a prompt ending in "\n" does not merge, and the labels are unchanged by the fix.
    from trainers.data.chat import ensure_chat_template

    ensure_chat_template(tokenizer)
    messages = [{"role": "user", "content": "the cat"}, {"role": "assistant", "content": "sat"}]
    doc = tokenize_conversation(tokenizer, messages, 256)
    assert tokenizer.decode(labeled(tokenizer, doc)) == "sat</s>"
