"""decontam: evaluation-set registry, n-gram and MinHash matching, contamination reports."""

from decontam.api import (
    ContaminationResult,
    decontaminate_files,
    find_contamination,
    load_evals,
)
from decontam.engine import FIELDS, METHODS, SEMANTIC, DecontamConfig
from decontam.evaldir import EvalDirError, load_eval_dir, pull_evals
from decontam.evalsets import (
    REGISTRY,
    EvalFileError,
    EvalSet,
    EvalSourceError,
    EvalSpec,
    load_eval,
)
from decontam.minhash import choose_bands, minhash_duplicates
from decontam.tokenize import normalize_text, token_spans, tokens

__all__ = [
    "FIELDS",
    "METHODS",
    "REGISTRY",
    "SEMANTIC",
    "ContaminationResult",
    "DecontamConfig",
    "EvalDirError",
    "EvalFileError",
    "EvalSet",
    "EvalSourceError",
    "EvalSpec",
    "choose_bands",
    "decontaminate_files",
    "find_contamination",
    "load_eval",
    "load_eval_dir",
    "load_evals",
    "minhash_duplicates",
    "normalize_text",
    "pull_evals",
    "token_spans",
    "tokens",
]
