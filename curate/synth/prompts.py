"""Stage 1: personas x skills -> deduplicated, decontaminated problem prompts."""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass, field

from curate.backends import (
    Backend,
    GenerationRequest,
    RequestCache,
    SamplingParams,
    Usage,
    request_key,
    run_cached,
)
from curate.synth.dedup import drop_contaminated, drop_duplicates
from curate.synth.personas import sample_personas
from curate.synth.skills import SKILLS, extract_problem, get_skill
from manifests import Accounting, canonical_json, stable_id


@dataclass(frozen=True)
class PromptConfig:
    skills: tuple[str, ...] = tuple(SKILLS)
    per_skill: int = 10  # prompts per skill (personas drawn without replacement)
    seed: int = 0
    params: SamplingParams = field(default_factory=lambda: SamplingParams(temperature=0.9))
    source: str = "skillmix_synth"
    minhash_threshold: float | None = 0.8
    decontam: tuple[str, ...] = ()
    max_constraints: int = 3


@dataclass(frozen=True)
class PromptJob:
    skill: str
    persona_index: int
    persona: str
    request: GenerationRequest


@dataclass
class StageResult:
    rows: list[dict]
    accounting: Accounting
    usage: Usage


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from the run seed and what identifies one request."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def plan_prompt_jobs(personas: list[str], config: PromptConfig) -> list[PromptJob]:
    """One request per (skill, sampled persona); the plan depends only on the seed."""
    jobs = []
    for name in config.skills:
        skill = get_skill(name)
        for index in sample_personas(personas, config.per_skill, config.seed, salt=name):
            messages = [{"role": "user", "content": skill.prompt_for(personas[index])}]
            seed = derive_seed(config.seed, name, index)
            request = GenerationRequest.chat(messages, config.params, seed)
            jobs.append(PromptJob(name, index, personas[index], request))
    return jobs


def prompt_record(
    job: PromptJob, problem: str, model: str, config: PromptConfig, persona_source: str
) -> dict:
    skill = get_skill(job.skill)
    meta = {
        "persona": job.persona,
        "persona_index": job.persona_index,
        "persona_source": persona_source,
        "template": skill.template_id,
        "prompt_model": model,
        "prompt_seed": job.request.seed,
        "prompt_sampling": asdict(config.params),
        "prompt_request": request_key(model, job.request),
    }
    if job.skill == "precise_if":
        # IFEval's checkers (NLTK) load only when precise_if prompts are made.
        from curate.ifaug import constrained_prompt, ground_truth, sample_constraints

        rng = random.Random(derive_seed(config.seed, "constraints", job.persona_index))
        constraints = sample_constraints(rng, problem, rng.randint(1, config.max_constraints))
        problem = constrained_prompt(problem, constraints)
        # The prompt contract has no answer check: a known one travels as lineage.
        meta.update(
            ground_truth=ground_truth(constraints),
            verifier="ifeval",
            constraint_ids=[c.instruction_id for c in constraints],
        )
    messages = [{"role": "user", "content": problem}]
    return {
        "id": stable_id(config.source, {"skill": job.skill, "messages": messages}),
        "source": config.source,
        "skill": job.skill,
        "messages": messages,
        "metadata": canonical_json(meta),
    }


def synthesize_prompts(
    personas: list[str],
    backend: Backend,
    cache: RequestCache,
    config: PromptConfig,
    persona_source: str = "builtin",
) -> StageResult:
    jobs = plan_prompt_jobs(personas, config)
    run = run_cached(backend, [job.request for job in jobs], cache, desc="synth prompts")
    acc = Accounting()
    rows = []
    for job in jobs:
        acc.add_in()
        completion = run.answer(backend.model, job.request)
        if completion is None:
            acc.remove("backend_failed")
            continue
        if completion.finish_reason == "length":  # cut off at max_tokens: half a problem
            acc.remove("truncated")
            continue
        problem = extract_problem(completion.text)
        if problem is None:
            acc.remove("missing_marker")
            continue
        rows.append(prompt_record(job, problem, backend.model, config, persona_source))
    rows = drop_duplicates(rows, acc, config.minhash_threshold, seed=config.seed)
    rows = drop_contaminated(rows, config.decontam, acc)
    acc.add_out(len(rows))
    acc.check()
    return StageResult(rows, acc, run.usage)
