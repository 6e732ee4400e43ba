"""The semantic decontamination step with an LLM judge: `decontam.semantic` proposes
(training row, eval instance) pairs by embedding similarity; an OpenAI-compatible backend,
with the request cache and its retries, judges whether each pair is a rephrasing.
Composed here because `decontam/` knows nothing of synthesis backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from curate.backends import Backend, GenerationRequest, RequestCache, SamplingParams, run_cached
from decontam.index import EvalCorpus
from decontam.semantic import Candidate, SemanticMatcher

JUDGE_PROMPT = (
    "Decide whether the two texts below are the same question: a copy, a rephrasing, a "
    "translation, or the same problem with only formatting or numbers reworded. Answer "
    "with one word, True or False.\n\nText 1:\n{train}\n\nText 2:\n{eval}"
)


@dataclass
class SemanticResult:
    candidates: list[dict] = field(default_factory=list)  # each with its judgment
    usage: dict = field(default_factory=dict)  # requests, cached, failed, tokens

    @property
    def rephrased(self) -> list[dict]:
        return [c for c in self.candidates if c["judgment"] is True]


def _verdict(text: str) -> bool | None:
    word = text.strip().split()[0].strip(".,:!").lower() if text.strip() else ""
    return {"true": True, "yes": True, "false": False, "no": False}.get(word)


def judge_candidates(
    texts: list[str],
    corpus: EvalCorpus,
    candidates: list[Candidate],
    backend: Backend | None,
    cache_path: str | Path | None = None,
) -> SemanticResult:
    """Each candidate as a record (eval, eval_id, doc, similarity, judgment); without a
    backend the judgment is None (candidates only). A reply that is neither True nor
    False, or a failed request, is judgment None with the reason."""
    records = [{"doc": c.doc, "eval": corpus.names[corpus.eval_of[c.inst]],
                "eval_id": corpus.ids[c.inst], "similarity": round(c.similarity, 6),
                "judgment": None} for c in candidates]
    if backend is None or not candidates:
        return SemanticResult(records, {})
    params = SamplingParams(temperature=0.0, max_tokens=4)
    requests = [
        GenerationRequest.chat([{"role": "user", "content": JUDGE_PROMPT.format(
            train=texts[c.doc], eval=corpus.texts[c.inst])}], params, seed=0)
        for c in candidates
    ]
    cache = RequestCache(cache_path or Path(".skillmix-cache") / "semantic_judge.jsonl")
    run = run_cached(backend, requests, cache)
    for record, request in zip(records, requests, strict=True):
        answer = run.answer(backend.model, request)
        if answer is None:
            record["judge_error"] = run.failures.get(run.keys[request], "no answer")
            continue
        record["judgment"] = _verdict(answer.text)
        if record["judgment"] is None:
            record["judge_error"] = f"unparsed reply {answer.text[:40]!r}"
    return SemanticResult(records, run.usage.to_dict())


def semantic_audit(
    texts: list[str], corpus: EvalCorpus, matcher: SemanticMatcher, backend: Backend | None,
    cache_path: str | Path | None = None,
) -> SemanticResult:
    """Candidates for `texts` from the matcher, judged by the backend when one is given."""
    return judge_candidates(texts, corpus, matcher.candidates(texts), backend, cache_path)
