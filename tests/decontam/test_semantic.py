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
    raw.train_from_iterator(
        texts,
        trainers.WordPieceTrainer(
            vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        ),
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="[PAD]", unk_token="[UNK]")
    torch.manual_seed(0)
    model = BertModel(
        BertConfig(
            vocab_size=raw.get_vocab_size(),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
        )
    )
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
        result = semantic_audit(
            ["some text"], corpus, matcher, OpenAIBackend(srv.url, "judge"), tmp_path / "c.jsonl"
        )
    assert result.candidates[0]["judgment"] is None
    assert "unparsed reply" in result.candidates[0]["judge_error"]


def test_cli_semantic_method_with_judge_costs_and_report(tmp_path):
    import json

    from click.testing import CliRunner

    from skillmix.cli import main

    train = [
        EVALS[0],
        "In April Natalia sold 48 clips to friends; in May she sold half that many.",
        "Tell me about the history of the printing press in Europe.",
    ]
    encoder = _tiny_encoder(EVALS + train, SemanticConfig())
    model_dir = tmp_path / "encoder"
    encoder.model.save_pretrained(model_dir)
    encoder.tokenizer.save_pretrained(model_dir)
    evals = tmp_path / "ev.jsonl"
    evals.write_text(
        "".join(json.dumps({"id": i, "q": t}) + "\n" for i, t in zip("abc", EVALS, strict=True))
    )
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"t{i}",
                    "source": "pool",
                    "messages": [
                        {"role": "user", "content": t},
                        {"role": "assistant", "content": "ok"},
                    ],
                }
            )
            + "\n"
            for i, t in enumerate(train)
        )
    )
    base = [
        "decontam",
        "--train",
        str(data),
        "--eval",
        f"ev={evals}:q",
        "--method",
        "semantic",
        "--encoder",
        str(model_dir),
        "--top-k",
        "3",
        "--similarity-floor",
        "-1",
    ]
    with MockOpenAIServer(_judge) as srv:
        result = CliRunner().invoke(
            main,
            [
                *base,
                "--judge-model",
                "judge",
                "--judge-base-url",
                srv.url,
                "--out",
                str(tmp_path / "o"),
            ],
        )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    sem = report["semantic"]
    assert sem["candidates"] == 9 and sem["judged"] == 9 and sem["rephrased"] == 2
    assert sem["usage"]["requests"] == 9 and sem["usage"]["prompt_tokens"] > 0
    judged = {(c["train_id"], c["eval_id"]) for c in sem["pairs"] if c["judgment"]}
    assert judged == {("t0", "a"), ("t1", "a")}
    assert report["sources"]["pool"]["flagged"] == 2
    assert report["flagged_rows_by_kind"]["exact"] == 1  # the copy
    assert report["flagged_rows_by_kind"]["paraphrase"] == 1  # the rewording
    assert "9 candidates, 9 judged, 2 rephrasings" in result.output
    page = (tmp_path / "o" / "report.html").read_text()
    assert "Semantic candidates" in page and "tag k-paraphrase" in page
    # without a judge the floor decides: all three rows hold a candidate at >= -1
    plain = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "p")])
    assert plain.exit_code == 0, plain.output
    assert (
        json.loads((tmp_path / "p" / "report.json").read_text())["sources"]["pool"]["flagged"] == 3
    )
    # named errors, not tracebacks
    missing = CliRunner().invoke(main, [*base[:-6], "--out", str(tmp_path / "q")])
    assert missing.exit_code == 2 and "needs --encoder" in missing.output
    (tmp_path / "empty").mkdir()
    bad = CliRunner().invoke(
        main, [*base[:-5], str(tmp_path / "empty"), "--out", str(tmp_path / "r")]
    )
    assert bad.exit_code == 1 and "could not load a Hugging Face model" in bad.output
