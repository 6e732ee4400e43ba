"""The pipeline's stage types, by the name a recipe uses."""

from __future__ import annotations

from skillmix.pipeline.stage import Stage
from skillmix.pipeline.stages.decontaminate import Decontaminate

STAGES: dict[str, type[Stage]] = {
    stage.TYPE: stage
    for stage in (Decontaminate,)
}
