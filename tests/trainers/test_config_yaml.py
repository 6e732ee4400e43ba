"""Training configs are read by the project's strict YAML loader."""

from __future__ import annotations

import pytest

from trainers import SFTConfig
from trainers.core.config import load_config


@pytest.mark.parametrize(
    "text, problem",
    [
        ("seed: 1\nseed: 2\n", "key 'seed' is given twice"),
        ("a: &x 1\nseed: *x\n", r"alias \*x is not allowed"),
        ("seed: [unclosed\n", "not valid YAML"),
    ],
)
def test_hostile_train_configs_are_named_errors(tmp_path, text, problem):
    path = tmp_path / "train.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"train\.yaml: .*{problem}"):
        load_config(SFTConfig, path, {})


def test_a_plain_config_loads_and_flags_win(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("seed: 3\nlearning-rate: 0.5\n")
    config = load_config(SFTConfig, path, {"seed": 9, "data": "d", "model": "m", "output": "o"})
    assert (config.seed, config.learning_rate) == (9, 0.5)
