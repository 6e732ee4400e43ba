"""The pipeline runner behind `skillmix run`: declared stages, keyed, resumable."""

from skillmix.pipeline.executors import EXECUTORS, ExecutorSpec
from skillmix.pipeline.recipe import RunRecipe, load_run_recipe, parse_run_recipe
from skillmix.pipeline.runner import PlannedStage, format_plan, plan_run, run_pipeline

__all__ = [
    "EXECUTORS",
    "ExecutorSpec",
    "PlannedStage",
    "RunRecipe",
    "format_plan",
    "load_run_recipe",
    "parse_run_recipe",
    "plan_run",
    "run_pipeline",
]
