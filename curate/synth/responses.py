"""Stage 2: prompt records -> answers -> verified `sft` rows and `rlvr` rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from curate.backends import (
    Backend,
    Completion,
    GenerationRequest,
    RequestCache,
    SamplingParams,
    Usage,
    run_cached,
)
from curate.backends.runner import failure_kind
from curate.synth.answers import Agreement, agree
from curate.synth.prompts import derive_seed
from curate.synth.samples import identical_samples_note
from curate.synth.skills import SKILLS
from curate.verifiers import verify
from manifests import Accounting, canonical_json, stable_id, validate_row
from manifests.progress import track


@dataclass(frozen=True)
class ResponseConfig:
    samples: int = 1  # answers per prompt; >1 votes on the ground truth
    min_agreement: float = 0.5  # share of samples that must agree (with samples > 1)
    seed: int = 0
    params: SamplingParams = field(default_factory=lambda: SamplingParams(temperature=0.7))


@dataclass
class ResponsesResult:
    sft: list[dict]
    rlvr: list[dict]
    sft_accounting: Accounting
    rlvr_accounting: Accounting
    usage: Usage
    failures: dict[str, int] = field(default_factory=dict)  # why requests got no answer
    notes: list[str] = field(default_factory=list)


def prompt_messages(record: dict) -> list[dict]:
    """The turns a model answers: the skill's solution instructions, then the prompt."""
    skill = SKILLS.get(record["skill"])
    turns = [dict(m) for m in record["messages"]]
    if skill is not None and skill.solution_template:
        turns = [{"role": "system", "content": skill.solution_template}, *turns]
    return turns


def plan_requests(record: dict, config: ResponseConfig) -> list[GenerationRequest]:
    messages = prompt_messages(record)
    return [
        GenerationRequest.chat(messages, config.params, derive_seed(config.seed, record["id"], j))
        for j in range(config.samples)
    ]


def _known_check(record: dict) -> tuple[str | None, str | None]:
    """(verifier, ground truth) a prompt already carries: top-level on an rlvr-shaped record,
    else in the prompt contract's metadata (where stage 1 and read_rows put it)."""
    if record.get("verifier"):
        return str(record["verifier"]).lower(), record.get("ground_truth") or None
    meta = json.loads(record.get("metadata") or "{}")
    if isinstance(meta, dict) and meta.get("verifier"):
        return str(meta["verifier"]).lower(), meta.get("ground_truth") or None
    return None, None


def _verifier_of(record: dict) -> str | None:
    verifier, _ = _known_check(record)
    if verifier:
        return verifier
    skill = SKILLS.get(record["skill"])
    return skill.verifier if skill else None


def _decide(record: dict, texts: list[str], config: ResponseConfig) -> Agreement:
    verifier = _verifier_of(record)
    if verifier is None:  # nothing to check: keep the first answer
        return Agreement(None, 0, 1.0)
    _, truth = _known_check(record)
    if truth:  # known truth (precise_if): keep the best answer if perfect
        scores = [verify(verifier, text, truth) for text in texts]
        best = max(range(len(texts)), key=lambda i: scores[i])
        if scores[best] < 1.0:
            return Agreement(truth, None, scores[best], "failed_verification")
        return Agreement(truth, best, sum(s == 1.0 for s in scores) / len(texts))
    min_share = config.min_agreement if config.samples > 1 else 0.0
    return agree(verifier, texts, min_share)


def _meta(record: dict, model: str, config: ResponseConfig, decision: Agreement) -> dict:
    meta = json.loads(record.get("metadata") or "{}")
    meta.update(
        prompt_id=record["id"],
        response_model=model,
        response_samples=config.samples,
        response_sampling=asdict(config.params),
        response_seed=config.seed,
        agreement=round(decision.share, 4),
    )
    return meta


def build_rows(
    record: dict, completions: list[Completion], model: str, config: ResponseConfig
) -> tuple[dict | None, dict | None, Agreement]:
    texts = [c.text for c in completions]
    decision = _decide(record, texts, config)
    meta = _meta(record, model, config, decision)
    sft = rlvr = None
    if decision.chosen is not None:
        messages = [*record["messages"], {"role": "assistant", "content": texts[decision.chosen]}]
        sft = {
            "id": stable_id(record["source"], {"messages": messages}),
            "source": record["source"],
            "skill": record["skill"],
            "messages": messages,
            "metadata": canonical_json(meta),
        }
        validate_row(sft, "sft")
    verifier = _verifier_of(record)
    if decision.ground_truth is not None and verifier is not None:
        content = {
            "messages": prompt_messages(record),
            "ground_truth": decision.ground_truth,
            "verifier": verifier,
        }
        rlvr = {
            "id": stable_id(record["source"], content),
            "source": record["source"],
            "skill": record["skill"],
            **content,
            "metadata": canonical_json(meta),
        }
        validate_row(rlvr, "rlvr")
    return sft, rlvr, decision


def synthesize_responses(
    records: Sequence[dict], backend: Backend, cache: RequestCache, config: ResponseConfig
) -> ResponsesResult:
    given = len(records)
    records = list({r["id"]: r for r in records}.values())  # duplicates: one request, one row
    plans = [plan_requests(record, config) for record in records]
    run = run_cached(backend, [r for plan in plans for r in plan], cache, desc="synth answers")
    result = ResponsesResult([], [], Accounting(), Accounting(), run.usage)
    for reason in run.failures.values():
        kind = failure_kind(reason)
        result.failures[kind] = result.failures.get(kind, 0) + 1
    if config.samples > 1:
        groups = ([c.text for q in plan if (c := run.answer(backend.model, q))] for plan in plans)
        note = identical_samples_note(backend.model, groups, config.params.temperature)
        result.notes += [note] if note else []
    sft_acc, rlvr_acc = result.sft_accounting, result.rlvr_accounting
    for acc in (sft_acc, rlvr_acc):
        if given > len(records):
            acc.add_in(given - len(records))
            acc.remove("duplicate_prompt", given - len(records))
    checked = track(zip(records, plans, strict=True), desc="synth: verify", total=len(records))
    for record, plan in checked:
        sft_acc.add_in()
        rlvr_acc.add_in()
        completions = [run.answer(backend.model, request) for request in plan]
        if any(c is None for c in completions):
            sft_acc.remove("backend_failed")
            rlvr_acc.remove("backend_failed")
            continue
        # Answers cut off at max_tokens neither vote nor get kept.
        completions = [c for c in completions if c.finish_reason != "length"]
        if not completions:
            sft_acc.remove("truncated")
            rlvr_acc.remove("truncated")
            continue
        sft, rlvr, decision = build_rows(record, completions, backend.model, config)
        reason = decision.reason or "not_verified"
        if sft is not None:
            result.sft.append(sft)
            sft_acc.add_out()
        else:
            sft_acc.remove(reason)
        if rlvr is not None:
            result.rlvr.append(rlvr)
            rlvr_acc.add_out()
        else:
            rlvr_acc.remove(reason if decision.ground_truth is None else "no_verifier")
    sft_acc.check()
    rlvr_acc.check()
    return result
