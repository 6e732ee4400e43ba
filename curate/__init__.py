"""curate: getting rows. Persona-driven skill synthesis, IFEval constraint augmentation,
answer verifiers, generation backends with a resumable cache, fastText skill tagging.

Subpackages: `curate.verifiers`, `curate.backends`, `curate.synth`, `curate.ifaug`,
`curate.tagging`. The names below are imported on first use, so importing one part
(say the HTTP backend) does not load sympy, NLTK or torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Completion": "curate.backends",
    "GenerationRequest": "curate.backends",
    "OpenAIBackend": "curate.backends",
    "RequestCache": "curate.backends",
    "SamplingParams": "curate.backends",
    "Usage": "curate.backends",
    "run_cached": "curate.backends",
    "BackendOptions": "curate.backends.factory",
    "make_backend": "curate.backends.factory",
    "AugmentConfig": "curate.ifaug",
    "augment_file": "curate.ifaug",
    "augment_rows": "curate.ifaug",
    "SKILLS": "curate.synth",
    "PromptConfig": "curate.synth",
    "ResponseConfig": "curate.synth",
    "load_personas": "curate.synth",
    "synthesize_prompts": "curate.synth",
    "synthesize_responses": "curate.synth",
    "run_prompt_stage": "curate.synth.run",
    "run_response_stage": "curate.synth.run",
    "run_preference_stage": "curate.synth.run",
    "run_synth": "curate.synth.run",
    "PreferenceConfig": "curate.synth.preferences",
    "parse_ratings": "curate.synth.preferences",
    "synthesize_preferences": "curate.synth.preferences",
    "TagTrainConfig": "curate.tagging",
    "apply_tagger": "curate.tagging",
    "train_tagger": "curate.tagging",
    "VERIFIERS": "curate.verifiers",
    "verify": "curate.verifiers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'curate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
