"""fastText skill tagging: train a classifier on labeled rows, tag unlabeled pools."""

from curate.tagging.fasttext_tagger import (
    SkillScore,
    TagReport,
    TagTrainConfig,
    apply_tagger,
    predict,
    score,
    tag_rows,
    train_tagger,
)

__all__ = [
    "SkillScore",
    "TagReport",
    "TagTrainConfig",
    "apply_tagger",
    "predict",
    "score",
    "tag_rows",
    "train_tagger",
]
