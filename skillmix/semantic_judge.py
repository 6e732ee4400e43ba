"""The semantic decontamination step with an LLM judge: `decontam.semantic` proposes
(training row, eval instance) pairs by embedding similarity; an OpenAI-compatible backend,
with the request cache and its retries, judges whether each pair is a rephrasing.
Composed here because `decontam/` knows nothing of synthesis backends: `LLMJudge` is the
`decontam.semantic.Judge` that `find_contamination(..., judge=...)` calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from curate.backends import Backend, GenerationRequest, RequestCache, SamplingParams, run_cached
from decontam.index import EvalCorpus
from decontam.semantic import Candidate, SemanticMatcher, Verdict

JUDGE_PROMPT = (
    "Decide whether the two texts below are the same question: a copy, a rephrasing, a "
    "translation, or the same problem with only formatting or numbers reworded. Answer "
    "with one word, True or False.\n\nText 1:\n{train}\n\nText 2:\n{eval}"
)
DEFAULT_CACHE = Path(".skillmix-cache") / "semantic_judge.jsonl"


def _verdict(text: str) -> bool | None:
    word = text.strip().split()[0].strip(".,:!*\"'").lower() if text.strip() else ""
    return {"true": True, "yes": True, "false": False, "no": False}.get(word)


class LLMJudge:
    """Asks `backend` whether each (training text, eval text) pair is a rephrasing. Replies
    other than True/False, and requests that failed after retries, are verdict None with
    the reason; `usage()` sums the cost of every call (requests, cached, tokens)."""

    def __init__(
        self, backend: Backend, cache_path: str | Path | None = None, max_tokens: int = 4
    ) -> None:
        self.backend = backend
        self.cache = RequestCache(cache_path or DEFAULT_CACHE)
        self.params = SamplingParams(temperature=0.0, max_tokens=max_tokens)
        self._usage: dict = {}

    def __call__(self, pairs: list[tuple[str, str]]) -> list[Verdict]:
        if not pairs:
            return []
        requests = [
            GenerationRequest.chat(
                [{"role": "user", "content": JUDGE_PROMPT.format(train=train, eval=evl)}],
                self.params,
                seed=0,
            )
            for train, evl in pairs
        ]
        run = run_cached(self.backend, requests, self.cache, desc="decontam judge")
        self._add_usage(run.usage.to_dict())
        out: list[Verdict] = []
        for request in requests:
            answer = run.answer(self.backend.model, request)
            if answer is None:
                out.append((None, run.failures.get(run.keys[request], "no answer")))
                continue
            verdict = _verdict(answer.text)
            out.append(
                (verdict, None if verdict is not None else f"unparsed reply {answer.text[:40]!r}")
            )
        return out

    def _add_usage(self, usage: dict) -> None:
        for key, value in usage.items():
            if isinstance(value, dict):
                merged = self._usage.setdefault(key, {})
                for k, v in value.items():
                    merged[k] = merged.get(k, 0) + v
            else:
                self._usage[key] = self._usage.get(key, 0) + value

    def usage(self) -> dict:
        return dict(self._usage)


@dataclass
class SemanticResult:
    candidates: list[dict] = field(default_factory=list)  # each with its judgment
    usage: dict = field(default_factory=dict)  # requests, cached, failed, tokens

    @property
    def rephrased(self) -> list[dict]:
        return [c for c in self.candidates if c["judgment"] is True]


def judge_candidates(
    texts: list[str],
    corpus: EvalCorpus,
    candidates: list[Candidate],
    backend: Backend | None,
    cache_path: str | Path | None = None,
) -> SemanticResult:
    """Each candidate as a record (eval, eval_id, doc, similarity, judgment); without a
    backend the judgment is None (candidates only)."""
    records = [
        {
            "doc": c.doc,
            "eval": corpus.names[corpus.eval_of[c.inst]],
            "eval_id": corpus.ids[c.inst],
            "similarity": round(c.similarity, 6),
            "judgment": None,
        }
        for c in candidates
    ]
    if backend is None or not candidates:
        return SemanticResult(records, {})
    judge = LLMJudge(backend, cache_path)
    verdicts = judge([(texts[c.doc], corpus.texts[c.inst]) for c in candidates])
    for record, (judgment, error) in zip(records, verdicts, strict=True):
        record["judgment"] = judgment
        if error is not None:
            record["judge_error"] = error
    return SemanticResult(records, judge.usage())


def semantic_audit(
    texts: list[str],
    corpus: EvalCorpus,
    matcher: SemanticMatcher,
    backend: Backend | None,
    cache_path: str | Path | None = None,
) -> SemanticResult:
    """Candidates for `texts` from the matcher, judged by the backend when one is given."""
    return judge_candidates(texts, corpus, matcher.candidates(texts), backend, cache_path)
