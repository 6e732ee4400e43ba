"""curate: getting rows. Persona-driven skill synthesis, IFEval constraint augmentation,
answer verifiers, generation backends with a resumable cache, fastText skill tagging.

Subpackages: `curate.verifiers`, `curate.backends`, `curate.synth`, `curate.ifaug`,
`curate.tagging`. The transformers backend is imported on demand
(`curate.backends.transformers_local.TransformersBackend`) so torch loads only when used.
"""

from curate.backends import (
    Completion,
    GenerationRequest,
    OpenAIBackend,
    RequestCache,
    SamplingParams,
    Usage,
    run_cached,
)
from curate.backends.factory import BackendOptions, make_backend
from curate.ifaug import AugmentConfig, augment_file, augment_rows
from curate.synth import (
    SKILLS,
    PromptConfig,
    ResponseConfig,
    load_personas,
    synthesize_prompts,
    synthesize_responses,
)
from curate.synth.run import run_prompt_stage, run_response_stage
from curate.tagging import TagTrainConfig, apply_tagger, train_tagger
from curate.verifiers import VERIFIERS, verify

__all__ = [
    "SKILLS",
    "VERIFIERS",
    "AugmentConfig",
    "BackendOptions",
    "Completion",
    "GenerationRequest",
    "OpenAIBackend",
    "PromptConfig",
    "RequestCache",
    "ResponseConfig",
    "SamplingParams",
    "TagTrainConfig",
    "Usage",
    "apply_tagger",
    "augment_file",
    "augment_rows",
    "load_personas",
    "make_backend",
    "run_cached",
    "run_prompt_stage",
    "run_response_stage",
    "synthesize_prompts",
    "synthesize_responses",
    "train_tagger",
    "verify",
]
