"""RLVR options: YAML with flags on top, and clear errors for values that cannot work."""

import pytest
from click.testing import CliRunner

from skillmix.cli import main
from trainers.core.config import load_config
from trainers.rl.config import RLVRConfig
from trainers.rl.generation import choose_backend

REQUIRED = {"data": "d", "model": "m", "output": "o"}


def test_yaml_then_flags(tmp_path):
    path = tmp_path / "rlvr.yaml"
    path.write_text("num-generations: 4\nbeta: 0.0\nepsilon_high: 0.28\nmax_new_tokens: 64\n")
    config = load_config(RLVRConfig, path, {**REQUIRED, "num_generations": 16})
    assert (config.num_generations, config.beta, config.epsilon_high) == (16, 0.0, 0.28)
    assert config.correct_reward == 10.0 and config.scale_rewards


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_generations": 1}, "num_generations must be at least 2"),
        ({"max_new_tokens": 4096, "max_length": 2048}, "below max_length"),
        ({"beta": -0.1}, "beta must be >= 0"),
        ({"temperature": 0.0}, "temperature must be positive"),
        ({"eval_data": "x", "eval_size": 3}, "not both"),
        ({"generation_backend": "tgi"}, "generation_backend must be one of"),
    ],
)
def test_invalid_values_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        load_config(RLVRConfig, None, {**REQUIRED, **options})


def test_cli_reports_a_bad_value_without_a_traceback(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "train",
            "rlvr",
            "--data",
            "d",
            "--model",
            "m",
            "--output",
            str(tmp_path),
            "--num-generations",
            "1",
        ],
    )
    assert result.exit_code != 0
    assert "num_generations must be at least 2" in result.output
    assert "Traceback" not in result.output


def test_auto_backend_is_transformers_without_vllm_or_gpu(monkeypatch):
    import trainers.rl.generation as gen

    monkeypatch.setattr(gen, "vllm_usable", lambda: False)
    assert choose_backend("auto") == "transformers"
    with pytest.raises(ValueError, match="needs the vllm package and a CUDA GPU"):
        choose_backend("vllm")
    monkeypatch.setattr(gen, "vllm_usable", lambda: True)
    assert choose_backend("auto") == "vllm"
