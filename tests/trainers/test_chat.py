import pytest

from trainers.data.chat import (
    IGNORE_INDEX,
    TULU_TEMPLATE,
    assistant_spans,
    ensure_chat_template,
    tokenize_conversation,
)


def labeled_text(tokenizer, doc) -> str:
    return tokenizer.decode([t for t in doc.labels if t != IGNORE_INDEX])


def test_template_fallback_and_pad(tokenizer):
    ensure_chat_template(tokenizer)
    assert tokenizer.chat_template == TULU_TEMPLATE
    assert tokenizer.pad_token_id is not None


def test_single_turn_labels_only_the_reply_and_eos(tokenizer):
    ensure_chat_template(tokenizer)
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "what is sum of three plus four"},
        {"role": "assistant", "content": "seven"},
    ]
    doc = tokenize_conversation(tokenizer, messages, 256)
    assert labeled_text(tokenizer, doc) == "seven</s>"
    assert len(doc.input_ids) == len(doc.labels)
    labeled = [i for i, t in enumerate(doc.labels) if t != IGNORE_INDEX]
    # The labeled tokens are one contiguous run that ends the sequence with EOS.
    assert labeled == list(range(labeled[0], len(doc.input_ids)))
    assert doc.input_ids[-1] == tokenizer.eos_token_id


def test_multi_turn_labels_every_assistant_turn(tokenizer):
    ensure_chat_template(tokenizer)
    messages = [
        {"role": "user", "content": "the cat sat"},
        {"role": "assistant", "content": "on a mat"},
        {"role": "user", "content": "two dogs ran"},
        {"role": "assistant", "content": "past seven red boxes"},
    ]
    doc = tokenize_conversation(tokenizer, messages, 256)
    assert labeled_text(tokenizer, doc) == "on a mat</s>past seven red boxes</s>"
    last_only = tokenize_conversation(tokenizer, messages, 256, last_only=True)
    assert labeled_text(tokenizer, last_only) == "past seven red boxes</s>"
    # User turns carry no labels.
    text, spans = assistant_spans(tokenizer, messages)
    for start, end in spans:
        assert "cat" not in text[start:end] and "dogs" not in text[start:end]


def test_tokenizer_template_is_used_when_present(tokenizer):
    tok = tokenizer.__class__(
        tokenizer_object=tokenizer.backend_tokenizer, eos_token="</s>", pad_token="<pad>"
    )
    tok.chat_template = (
        "{% for m in messages %}{{ '[' + m['role'] + ']' + m['content'] }}"
        "{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '[assistant]' }}{% endif %}"
    )
    ensure_chat_template(tok)
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "sun"}]
    doc = tokenize_conversation(tok, messages, 64)
    assert tok.decode(doc.input_ids).startswith("[user]hi")
    assert labeled_text(tok, doc) == "sun</s>"


def test_truncation_keeps_max_length(tokenizer):
    ensure_chat_template(tokenizer)
    messages = [
        {"role": "user", "content": "the cat " * 40},
        {"role": "assistant", "content": "mat"},
    ]
    doc = tokenize_conversation(tokenizer, messages, 16)
    assert len(doc.input_ids) == 16
    assert doc.num_labels == 0


def test_template_that_is_not_prefix_stable_is_refused(tokenizer):
    tok = tokenizer.__class__(
        tokenizer_object=tokenizer.backend_tokenizer, eos_token="</s>", pad_token="<pad>"
    )
    # Numbers each turn from the end, so a conversation's start renders differently alone.
    tok.chat_template = (
        "{% for m in messages %}{{ (messages|length - loop.index)|string + m['content'] }}"
        "{% endfor %}"
    )
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    with pytest.raises(ValueError, match="prefix-stable"):
        tokenize_conversation(tok, messages, 64)
