"""Stage options take their defaults from the room's config class, never from a copy."""

from __future__ import annotations

import dataclasses

import pytest

from curate.ifaug import AugmentConfig
from curate.synth.preferences import PreferenceConfig
from curate.synth.prompts import PromptConfig
from curate.synth.responses import ResponseConfig
from curate.tagging.fasttext_tagger import TagTrainConfig
from decontam.engine import DecontamConfig
from skillmix.pipeline.stage import REQUIRED, Default
from skillmix.pipeline.stages import STAGES

ROOM_CONFIGS = (
    AugmentConfig,
    DecontamConfig,
    PreferenceConfig,
    PromptConfig,
    ResponseConfig,
    TagTrainConfig,
)
ROOM_FIELDS = {f.name for cfg in ROOM_CONFIGS for f in dataclasses.fields(cfg)}
OPTIONS = [(t, k, v) for t, cls in STAGES.items() for k, v in cls.OPTIONS.items()]


@pytest.mark.parametrize(
    ("stage", "key", "default"), OPTIONS, ids=[f"{t}.{k}" for t, k, _ in OPTIONS]
)
def test_no_stage_writes_a_rooms_default_again(stage, key, default):
    if isinstance(default, Default):
        default.value()  # names a real field of a real config
    elif default is not REQUIRED and default is not None and key != "seed":
        assert key not in ROOM_FIELDS, f"{stage}.{key}: read it from the room with Default"


def test_checked_options_carry_the_rooms_values(monkeypatch):
    options = STAGES["decontaminate"].check_options("s", {"evals": ["x"]})
    assert (options["ngram_size"], options["threshold"], options["fields"]) == (8, 0.5, "user")
    fields = {f.name: f for f in dataclasses.fields(DecontamConfig)}
    monkeypatch.setattr(fields["ngram_size"], "default", 13)
    assert STAGES["decontaminate"].check_options("s", {"evals": ["x"]})["ngram_size"] == 13
    pref = STAGES["preferences"].check_options("s", {"from": "a", "as": "b", "pool": ["m"]})
    assert pref["temperature"] == PreferenceConfig().params.temperature == 0.8
    assert pref["samples"] == 1 and pref["judge_retries"] == 2
    given = STAGES["preferences"].check_options(
        "s", {"from": "a", "as": "b", "pool": ["m"], "temperature": 0.3}
    )
    assert given["temperature"] == 0.3
