"""Persona-driven skill synthesis in two resumable stages: prompts, then responses."""

from curate.synth.personas import BUILTIN, builtin_path, load_personas, sample_personas
from curate.synth.prompts import PromptConfig, StageResult, plan_prompt_jobs, synthesize_prompts
from curate.synth.records import read_prompt_records, write_prompt_records
from curate.synth.responses import ResponseConfig, ResponsesResult, synthesize_responses
from curate.synth.skills import MARKER, SKILLS, Skill, extract_problem, get_skill

__all__ = [
    "BUILTIN",
    "MARKER",
    "SKILLS",
    "PromptConfig",
    "ResponseConfig",
    "ResponsesResult",
    "Skill",
    "StageResult",
    "builtin_path",
    "extract_problem",
    "get_skill",
    "load_personas",
    "plan_prompt_jobs",
    "read_prompt_records",
    "sample_personas",
    "synthesize_prompts",
    "synthesize_responses",
    "write_prompt_records",
]
