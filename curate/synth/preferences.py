"""Stage 3: prompts -> completions from a model pool -> judged or verified preference pairs.

Tülu 3's on-policy recipe: every pool member answers each prompt `samples` times; an LLM
judge rates each completion on four aspects (1-5); chosen = highest mean rating, rejected =
a seeded random completion rated lower. Prompts with a known check (a verifier and its
ground truth) are paired by the verifier instead, with no judge call. Every request goes
through the resumable request cache, so a killed run asks nothing twice.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from curate.backends import (
    Backend,
    Completion,
    GenerationRequest,
    RequestCache,
    SamplingParams,
    Usage,
    request_key,
    run_cached,
)
from curate.backends.runner import CachedRun, failure_kind
from curate.synth.prompts import derive_seed
from curate.synth.samples import identical_samples_note
from curate.verifiers import verify
from manifests import Accounting, canonical_json, stable_id, validate_row

ASPECTS = ("helpfulness", "instruction_following", "honesty", "truthfulness")
JUDGE_TEMPLATE_ID = "judge-4aspect-v1"
JUDGE_MARKER = "You are grading one answer written by an AI assistant."
# Written for skillmix: one call rates all four aspects, answered as a JSON object.
JUDGE_TEMPLATE = (
    JUDGE_MARKER + "\n\n"
    "Read the conversation and the answer below, then rate the answer from 1 (very poor) to "
    "5 (excellent) on each of four aspects:\n"
    "- helpfulness: does it solve the user's actual problem, completely and clearly?\n"
    "- instruction_following: does it respect every requirement the user stated "
    "(format, length, wording, language)?\n"
    "- honesty: does it state uncertainty where it has some, and avoid bluffing?\n"
    "- truthfulness: is every claim and every step correct, with nothing made up?\n\n"
    "Judge each aspect on its own. Length is not quality.\n\n"
    "<conversation>\n{conversation}\n</conversation>\n\n<answer>\n{answer}\n</answer>\n\n"
    'Reply with only a JSON object such as {{"helpfulness": 4, "instruction_following": 5, '
    '"honesty": 4, "truthfulness": 3}}. Lines of the form "Truthfulness: Rating: 3" are '
    "also accepted."
)

_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_RATING_LINE = re.compile(
    r"(helpfulness|instruction[ _-]following|honesty|truthfulness)\b[^\n]*?"
    r"rating\s*[:=]\s*\**\s*([1-5](?:\.\d+)?)(?![\d.])",
    re.IGNORECASE,
)


def parse_ratings(text: str) -> dict[str, float] | None:
    """All four aspect ratings from a judge's answer, or None: never guessed.

    Accepts a JSON object with numeric scores (anywhere in the text), or UltraFeedback
    style lines ('Honesty ... Rating: 4'). A score outside 1-5 or a missing aspect is None.
    """
    for candidate in _JSON_OBJECT.findall(text):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        norm = {
            str(k).strip().lower().replace(" ", "_").replace("-", "_"): v for k, v in data.items()
        }
        scores = {a: norm.get(a) for a in ASPECTS}
        if all(
            isinstance(v, int | float) and not isinstance(v, bool) and 1 <= v <= 5
            for v in scores.values()
        ):
            return {a: float(v) for a, v in scores.items()}
    found: dict[str, float] = {}
    for name, value in _RATING_LINE.findall(text):
        aspect = re.sub(r"[ -]", "_", name.lower())
        found.setdefault(aspect, float(value))
    return found if set(found) == set(ASPECTS) else None


@dataclass(frozen=True)
class PreferenceConfig:
    samples: int = 1  # completions per pool member per prompt
    seed: int = 0
    params: SamplingParams = field(default_factory=lambda: SamplingParams(temperature=0.8))
    judge_params: SamplingParams = field(
        default_factory=lambda: SamplingParams(temperature=0.0, max_tokens=256)
    )
    judge_retries: int = 2  # extra judge calls for an unparsable answer, then judge_unparsed
    min_margin: float = 0.0  # chosen mean minus rejected mean must exceed this
    keep_truncated: bool = False  # pair completions cut off at max_tokens too
    source: str | None = None  # default: the prompt's own source


@dataclass
class PreferencesResult:
    rows: list[dict]
    accounting: Accounting
    usage: dict[str, Usage]  # per model (pool members and the judge)
    notes: list[str] = field(default_factory=list)
    failures: dict[str, dict[str, int]] = field(default_factory=dict)  # model -> reason -> n

    def failure_summary(self) -> str:
        """'m1: http_401 x20; ...' for the requests that got no answer, or ''."""
        return "; ".join(
            f"{model}: " + ", ".join(f"{why} x{n}" for why, n in sorted(reasons.items()))
            for model, reasons in sorted(self.failures.items())
        )


@dataclass
class _Candidate:
    model: str
    sample: int
    text: str
    key: str
    ratings: dict[str, float] | None = None
    judge_key: str | None = None
    judge_failed: bool = False  # the judge backend gave no answer (not an unparsable one)

    @property
    def mean(self) -> float:
        assert self.ratings is not None
        return sum(self.ratings.values()) / len(self.ratings)


def check_of(record: dict) -> tuple[str, str] | None:
    """(verifier, ground_truth) when the prompt's check is known: a top-level pair (rlvr
    rows) or the lineage kept in metadata (prompt rows)."""
    if record.get("verifier") and record.get("ground_truth"):
        return str(record["verifier"]).lower(), str(record["ground_truth"])
    try:
        meta = json.loads(record.get("metadata") or "{}")
    except ValueError:
        return None
    if isinstance(meta, dict) and meta.get("verifier") and meta.get("ground_truth"):
        return str(meta["verifier"]).lower(), str(meta["ground_truth"])
    return None


def completion_requests(
    record: dict, config: PreferenceConfig, model: str
) -> list[GenerationRequest]:
    messages = [dict(m) for m in record["messages"]]
    return [
        GenerationRequest.chat(
            messages, config.params, derive_seed(config.seed, record["id"], model, j)
        )
        for j in range(config.samples)
    ]


def judge_request(
    record: dict, answer: str, config: PreferenceConfig, attempt: int
) -> GenerationRequest:
    """One judge call; a retry of an unparsable answer is a new seed, so a new request."""
    conversation = "\n".join(f"[{m['role']}] {m['content']}" for m in record["messages"])
    content = JUDGE_TEMPLATE.format(conversation=conversation, answer=answer)
    seed = derive_seed(config.seed, "judge", record["id"], answer, attempt)
    return GenerationRequest.chat([{"role": "user", "content": content}], config.judge_params, seed)


def _usable(completion: Completion | None, keep_truncated: bool) -> bool:
    return (
        completion is not None
        and (keep_truncated or completion.finish_reason != "length")
        and bool(completion.text.strip())
    )


def _count_failures(failures: dict[str, dict[str, int]], model: str, run: CachedRun) -> None:
    for reason in run.failures.values():
        kind = failure_kind(reason)
        per = failures.setdefault(model, {})
        per[kind] = per.get(kind, 0) + 1


def _check_pool(pool: Sequence[Backend]) -> None:
    names = [member.model for member in pool]
    if not names:
        raise ValueError("the model pool is empty (give at least one --model)")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:  # their answers would share cache keys and lineage names
        raise ValueError(f"pool members need distinct names; given twice: {twice}")


def synthesize_preferences(
    records: Sequence[dict],
    pool: Sequence[Backend],
    judge: Backend | None,
    cache: RequestCache,
    config: PreferenceConfig,
) -> PreferencesResult:
    _check_pool(pool)
    given = len(records)
    records = list({r["id"]: r for r in records}.values())  # duplicates: one request, one row
    judged_ids = {r["id"] for r in records if check_of(r) is None}
    if judged_ids and judge is None:  # said before the first request, not after the pool ran
        raise ValueError("prompts without a known check need a judge model (--judge-model)")
    usage: dict[str, Usage] = {}
    failures: dict[str, dict[str, int]] = {}
    candidates: dict[str, list[_Candidate]] = {r["id"]: [] for r in records}
    for member in pool:
        plans = {r["id"]: completion_requests(r, config, member.model) for r in records}
        requests = [q for plan in plans.values() for q in plan]
        run = run_cached(member, requests, cache, desc=f"preferences: {member.model}")
        usage[member.model] = run.usage
        _count_failures(failures, member.model, run)
        for rid, plan in plans.items():
            for j, request in enumerate(plan):
                completion = run.answer(member.model, request)
                if _usable(completion, config.keep_truncated):
                    assert completion is not None
                    key = request_key(member.model, request)
                    candidates[rid].append(_Candidate(member.model, j, completion.text, key))
    notes = _identical_samples_notes(records, candidates, config)
    judged = [r for r in records if r["id"] in judged_ids and len(candidates[r["id"]]) > 1]
    if judged:
        assert judge is not None
        _judge(judged, candidates, judge, cache, config, usage, failures)
    acc = Accounting()
    if given > len(records):
        acc.add_in(given - len(records))
        acc.remove("duplicate_prompt", given - len(records))
    rows: list[dict] = []
    for record in records:
        acc.add_in()
        row, reason = _pair(record, candidates[record["id"]], config, judge)
        if row is None:
            acc.remove(reason)
        else:
            validate_row(row, "preference")
            rows.append(row)
            acc.add_out()
    acc.check()
    return PreferencesResult(rows, acc, usage, notes, failures)


def _judge(records, candidates, judge, cache, config, usage, failures) -> None:
    """Rate every candidate; unparsable answers are asked again with a new seed. A request
    the backend gave up on is not asked again (its retries are spent already)."""
    pending = [(r, c) for r in records for c in candidates[r["id"]]]
    total = Usage()
    for attempt in range(config.judge_retries + 1):
        if not pending:
            break
        asks = [(r, c, judge_request(r, c.text, config, attempt)) for r, c in pending]
        run = run_cached(
            judge, [q for _, _, q in asks], cache, desc=f"preferences: judge {judge.model}"
        )
        _count_failures(failures, f"judge:{judge.model}", run)
        for name in (
            "requests",
            "cached",
            "failed",
            "retries",
            "prompt_tokens",
            "completion_tokens",
        ):
            setattr(total, name, getattr(total, name) + getattr(run.usage, name))
        still = []
        for record, cand, request in asks:
            answer = run.answer(judge.model, request)
            cand.judge_key = request_key(judge.model, request)
            if answer is None:
                cand.judge_failed = True
                continue
            ratings = parse_ratings(answer.text)
            if ratings is None:
                still.append((record, cand))
            else:
                cand.ratings = ratings
        pending = still
    usage[f"judge:{judge.model}"] = total


def _pair(record, cands, config, judge) -> tuple[dict | None, str]:
    if not cands:
        return None, "no_completion"
    if len(cands) == 1:
        return None, "one_usable_completion"
    rng = random.Random(derive_seed(config.seed, "pair", record["id"]))
    check = check_of(record)
    if check is not None:
        verifier, truth = check
        scores = [verify(verifier, c.text, truth) for c in cands]
        passing = [c for c, s in zip(cands, scores, strict=True) if s == 1.0]
        failing = [c for c, s in zip(cands, scores, strict=True) if s < 1.0]
        if not passing:
            return None, "no_passing_completion"
        if not failing:
            return None, "no_failing_completion"
        chosen, rejected = passing[0], rng.choice(failing)
        extra = {"pair_method": "verifier", "verifier": verifier}
    else:
        rated = [c for c in cands if c.ratings is not None]
        if len(rated) < 2:  # some candidates had no rating: say why
            return None, "judge_failed" if any(c.judge_failed for c in cands) else "judge_unparsed"
        best = max(c.mean for c in rated)
        top = [c for c in rated if c.mean == best]
        lower = [c for c in rated if c.mean < best]
        if not lower:
            return None, "tie"
        chosen, rejected = top[0], rng.choice(lower)
        if chosen.mean - rejected.mean <= config.min_margin:
            return None, "below_margin"
        extra = {
            "pair_method": "judge",
            "judge_model": judge.model,
            "judge_template": JUDGE_TEMPLATE_ID,
            "chosen_ratings": chosen.ratings,
            "rejected_ratings": rejected.ratings,
            "chosen_judge_request": chosen.judge_key,
            "rejected_judge_request": rejected.judge_key,
            "judge_unparsed": sum(c.ratings is None and not c.judge_failed for c in cands),
            "judge_failed": sum(c.judge_failed for c in cands),
        }
    try:
        meta = json.loads(record.get("metadata") or "{}")
    except ValueError:
        meta = {}
    meta = meta if isinstance(meta, dict) else {"prompt_metadata": meta}
    meta.update(
        prompt_id=record["id"],
        chosen_model=chosen.model,
        rejected_model=rejected.model,
        chosen_request=chosen.key,
        rejected_request=rejected.key,
        candidates=len(cands),
        pool=sorted({c.model for c in cands}),
        completion_sampling=asdict(config.params),
        preference_seed=config.seed,
        **extra,
    )
    source = config.source or record["source"]
    chosen_msgs = [*record["messages"], {"role": "assistant", "content": chosen.text}]
    rejected_msgs = [*record["messages"], {"role": "assistant", "content": rejected.text}]
    row = {
        "id": stable_id(source, {"chosen": chosen_msgs, "rejected": rejected_msgs}),
        "source": source,
        "skill": record["skill"],
        "chosen": chosen_msgs,
        "rejected": rejected_msgs,
        "metadata": canonical_json(meta),
    }
    return row, ""


def _identical_samples_notes(records, candidates, config) -> list[str]:
    """Say once per model when samples of one prompt are byte-identical at T > 0."""
    if config.samples < 2:
        return []
    notes = []
    for model in sorted({c.model for cs in candidates.values() for c in cs}):
        groups = ([c.text for c in candidates[r["id"]] if c.model == model] for r in records)
        note = identical_samples_note(model, groups, config.params.temperature)
        if note:
            notes.append(note)
    return notes
