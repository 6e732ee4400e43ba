"""decontam: evaluation-set registry, n-gram and MinHash matching, contamination reports."""

from decontam.api import (
    ContaminationResult,
    decontaminate_files,
    find_contamination,
    load_evals,
)
from decontam.engine import METHODS, DecontamConfig
from decontam.evalsets import REGISTRY, EvalFileError, EvalSet, EvalSpec, load_eval
from decontam.minhash import choose_bands, minhash_duplicates
from decontam.tokenize import normalize_text, token_spans, tokens

__all__ = [
    "METHODS",
    "REGISTRY",
    "ContaminationResult",
    "DecontamConfig",
    "EvalFileError",
    "EvalSet",
    "EvalSpec",
    "choose_bands",
    "decontaminate_files",
    "find_contamination",
    "load_eval",
    "load_evals",
    "minhash_duplicates",
    "normalize_text",
    "token_spans",
    "tokens",
]
