"""The pipeline's stage types, by the name a recipe uses."""

from __future__ import annotations

from skillmix.pipeline.stage import Stage
from skillmix.pipeline.stages.augment_if import AugmentIf
from skillmix.pipeline.stages.decontaminate import Decontaminate
from skillmix.pipeline.stages.dedup import Dedup
from skillmix.pipeline.stages.mix import Mix
from skillmix.pipeline.stages.preferences import Preferences
from skillmix.pipeline.stages.synth import Synth
from skillmix.pipeline.stages.tag import Tag
from skillmix.pipeline.stages.train import Train

STAGES: dict[str, type[Stage]] = {
    stage.TYPE: stage
    for stage in (Synth, AugmentIf, Tag, Decontaminate, Dedup, Mix, Train, Preferences)
}
