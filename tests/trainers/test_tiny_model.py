"""The one tiny-model builder: seeds, shapes, chat template, the saved folder."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from trainers import TULU_TEMPLATE
from trainers.tiny_model import CHAT_MARKERS, build_tiny_model, tiny_llama, train_tokenizer

TEXTS = ["the cat sat on a mat", "two plus three is five", "Ünïcödé 数学 текст"] * 5


def test_same_seed_same_weights_other_seed_other_weights():
    tok = train_tokenizer(TEXTS, vocab_size=300)
    a, b, c = tiny_llama(tok), tiny_llama(tok), tiny_llama(tok, seed=1)
    pairs = list(zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert all(torch.equal(x, y) for x, y in pairs)
    assert not torch.equal(a.lm_head.weight, c.lm_head.weight)


def test_overrides_reach_the_config_and_specials_name_bos_eos_pad():
    tok = train_tokenizer(TEXTS, vocab_size=300)
    model = tiny_llama(tok, layers=3, kv_heads=4, max_positions=64, use_cache=False)
    cfg = model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_key_value_heads) == (64, 3, 4)
    assert cfg.max_position_embeddings == 64 and cfg.use_cache is False
    assert cfg.vocab_size == len(tok)
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (0, 1, 2)
    assert (cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id) == (0, 1, 2)


def test_byte_level_round_trips_text_it_never_saw_and_knows_the_chat_markers():
    tok = train_tokenizer(TEXTS, vocab_size=300)
    unseen = "emoji 🙂 and Ελληνικά"
    assert tok.decode(tok(unseen)["input_ids"]) == unseen
    assert tok.unk_token is None  # byte-level: nothing is unknown
    assert tok.decode(tok(CHAT_MARKERS)["input_ids"]) == CHAT_MARKERS


def test_chat_template_choices():
    assert not train_tokenizer(TEXTS, vocab_size=300).chat_template
    assert train_tokenizer(TEXTS, vocab_size=300, chat_template=True).chat_template == (
        TULU_TEMPLATE
    )
    own = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert train_tokenizer(TEXTS, vocab_size=300, chat_template=own).chat_template == own


def test_saved_folder_loads_back_as_the_same_model(tmp_path):
    folder = build_tiny_model(TEXTS, tmp_path / "tiny", vocab_size=300, seed=3, layers=1)
    model = AutoModelForCausalLM.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    fresh = tiny_llama(train_tokenizer(TEXTS, vocab_size=300), seed=3, layers=1)
    assert model.config.num_hidden_layers == 1 and len(tok) == model.config.vocab_size
    assert torch.equal(model.lm_head.weight, fresh.lm_head.weight)
