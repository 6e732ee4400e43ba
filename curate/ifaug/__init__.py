"""Verifiable-constraint (IFEval) augmentation of existing prompts."""

from curate.ifaug.augment import (
    AugmentConfig,
    augment_row,
    augment_rows,
    constrained_prompt,
    ground_truth,
)
from curate.ifaug.constraints import (
    CONFLICTS,
    INSTRUCTION_IDS,
    Constraint,
    compatible,
    describe,
    sample_constraints,
)
from curate.ifaug.run import augment_file

__all__ = [
    "CONFLICTS",
    "INSTRUCTION_IDS",
    "AugmentConfig",
    "Constraint",
    "augment_file",
    "augment_row",
    "augment_rows",
    "compatible",
    "constrained_prompt",
    "describe",
    "ground_truth",
    "sample_constraints",
]
