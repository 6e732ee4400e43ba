"""The semantic method with a tiny random encoder, and its LLM judge on the mock server."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from curate.backends import OpenAIBackend, RetryPolicy  # noqa: E402
from curate.backends.mock_server import MockOpenAIServer  # noqa: E402
from decontam.evalsets import EvalSet  # noqa: E402
from decontam.index import EvalCorpus  # noqa: E402
from decontam.semantic import Encoder, SemanticConfig, SemanticMatcher  # noqa: E402
from skillmix.semantic_judge import semantic_audit  # noqa: E402

EVALS = [
    "Natalia sold clips to 48 of her friends in April and half as many in May.",
    "Write a function that returns the sum of the squares of a list of integers.",
    "Which planet in the solar system has the most moons discovered so far?",
]


def _tiny_encoder(texts: list[str], config: SemanticConfig) -> Encoder:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    raw = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="[PAD]",
                                        unk_token="[UNK]")
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=raw.get_vocab_size(), hidden_size=32,
                                 num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=128))
    return Encoder(model, tokenizer, config)


def _judge(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    first, second = prompt.split("Text 1:\n")[1].split("\n\nText 2:\n")
    return "True" if "Natalia" in first and "Natalia" in second else "False"


def test_candidates_and_judgments_with_costs(tmp_path):
    train = [
        EVALS[0],  # a copy: similarity 1 to its instance
        "In April Natalia sold 48 clips to friends; in May she sold half that many.",
        "Tell me about the history of the printing press in Europe.",
    ]
    config = SemanticConfig(top_k=2, floor=-1.0, batch_size=2)
    encoder = _tiny_encoder(EVALS + train, config)
    corpus = EvalCorpus.from_sets([EvalSet("mix", ["a", "b", "c"], EVALS)])
    matcher = SemanticMatcher(corpus, encoder)
    cands = matcher.candidates(train)
    assert len(cands) == 2 * len(train)  # floor -1 keeps top_k of each
    best = max((c for c in cands if c.doc == 0), key=lambda c: c.similarity)
    assert best.inst == 0 and best.similarity == pytest.approx(1.0, abs=1e-5)
    # a floor keeps only what is at least that similar
    strict = SemanticMatcher(corpus, _tiny_encoder(EVALS + train, SemanticConfig(floor=0.999)))
    assert [(c.doc, c.inst) for c in strict.candidates(train)] == [(0, 0)]

    with MockOpenAIServer(_judge) as srv:
        backend = OpenAIBackend(srv.url, "judge", retry=RetryPolicy(max_retries=1))
        cache = tmp_path / "judge.jsonl"
        first = semantic_audit(train, corpus, matcher, backend, cache)
        again = semantic_audit(train, corpus, matcher, backend, cache)
    judged = {(c["doc"], c["eval_id"]): c["judgment"] for c in first.candidates}
    assert judged[(0, "a")] is True and judged[(1, "a")] is True
    assert all(v is False for (doc, eid), v in judged.items() if eid != "a" or doc == 2)
    assert first.usage["requests"] == len(cands) and first.usage["prompt_tokens"] > 0
    assert again.usage["requests"] == 0 and again.usage["cached"] == len(cands)


def test_unjudgeable_reply_is_named_not_guessed(tmp_path):
    config = SemanticConfig(top_k=1, floor=-1.0)
    corpus = EvalCorpus.from_sets([EvalSet("mix", ["a", "b", "c"], EVALS)])
    matcher = SemanticMatcher(corpus, _tiny_encoder(EVALS, config))
    with MockOpenAIServer(lambda body: "maybe?") as srv:
        result = semantic_audit(["some text"], corpus, matcher,
                                OpenAIBackend(srv.url, "judge"), tmp_path / "c.jsonl")
    assert result.candidates[0]["judgment"] is None
    assert "unparsed reply" in result.candidates[0]["judge_error"]
