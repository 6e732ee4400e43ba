"""Every command's --help shows its defaults, read from the config classes (one source)."""

import dataclasses
import json

import click
import pytest
from click.testing import CliRunner

from curate.synth.skills import SKILLS
from curate.verifiers import ALIASES, VERIFIERS
from skillmix.cli import main
from skillmix.commands._options import ConfigOption, build, config_option
from skillmix.defaults import field_default, resolve


def _commands(group=main, path=()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


COMMANDS = list(_commands())


def _options(command):
    return [p for p in command.params if isinstance(p, click.Option) and p.expose_value]


def _context(path, command):
    return click.Context(command, info_name=" ".join(path))


def test_the_walk_reaches_every_command():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"synth", "train sft", "train dpo", "train rlvr", "tag train", "evals pull"} <= names
    assert len(names) >= 18


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_default_is_shown(path, command):
    ctx = _context(path, command)
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for param in _options(command):
        default = param.to_info_dict()["default"]
        if default is None or default in ((), []):
            continue
        if param.is_flag and not param.secondary_opts and default is False:
            continue  # an off switch: not giving it is its default
        record = param.get_help_record(ctx)
        assert record is not None and "[default: " in record[1], f"{path} {param.opts[0]}"
        shown = record[1][record[1].index("[default: ") :].split(";")[0].rstrip("]")
        assert " ".join(shown.split()) in text, f"{path} {param.opts[0]}: {shown!r}"


def _config_fields(param):
    if not isinstance(param, ConfigOption):
        return set()
    return {(resolve(ref), param.field) for ref in param.configs.values()}


def test_a_shared_option_has_one_default_per_config_field():
    """Options that set the same config field show and use the same default; an option
    repeated across commands with another default (not unset) must set a different config
    field, so no command hard-codes a default of its own."""
    by_field, by_flag = {}, {}
    for path, command in COMMANDS:
        for param in _options(command):
            default = repr(param.to_info_dict()["default"])
            for key in _config_fields(param):
                by_field.setdefault(key, set()).add(default)
            by_flag.setdefault(param.opts[0], []).append((path, param, default))
    for key, defaults in by_field.items():
        assert len(defaults) == 1, f"{key}: {defaults}"
    for flag, uses in by_flag.items():
        for i, (path_a, a, default_a) in enumerate(uses):
            for path_b, b, default_b in uses[i + 1 :]:
                if default_a != default_b and "None" not in (default_a, default_b):
                    fields_a, fields_b = _config_fields(a), _config_fields(b)
                    assert fields_a and fields_b and not fields_a & fields_b, (
                        f"{flag}: {path_a} {default_a} vs {path_b} {default_b}"
                    )


def test_each_config_option_defaults_to_its_field():
    for path, command in COMMANDS:
        ctx = _context(path, command)
        for param in _options(command):
            if isinstance(param, ConfigOption) and len(param.configs) == 1:
                (ref,) = param.configs.values()
                expected = field_default(ref, param.field)
                if isinstance(expected, tuple) and not param.multiple:
                    expected = ",".join(expected)
                assert param.get_default(ctx) == (expected if expected != "" else None), (
                    f"{path} {param.opts[0]}"
                )


@dataclasses.dataclass(frozen=True)
class _Params:
    temperature: float = 0.5
    top_p: float = 1.0


@dataclasses.dataclass(frozen=True)
class _Config:
    size: int = 3
    limit: int | None = 100
    params: _Params = dataclasses.field(default_factory=lambda: _Params(temperature=0.9))


@dataclasses.dataclass(frozen=True)
class _Other:
    params: _Params = dataclasses.field(default_factory=lambda: _Params(temperature=0.1))


def _toy():
    seen = {}

    @click.command()
    @config_option("--size", config=_Config, type=int, help="Size.")
    @config_option("--limit", config=_Config, type=int, zero_is_off=True, help="Limit.")
    @config_option(
        "--temperature",
        config={"config": _Config, "other": _Other},
        field="params.temperature",
        type=float,
        help="Temperature.",
    )
    @config_option("--top-p", config=_Config, field="params.top_p", type=float, help="Top p.")
    def toy(**_options):
        seen["config"], seen["other"] = build(_Config), build(_Other)

    return toy, seen


def test_config_option_builds_by_keyword_with_nested_fields():
    toy, seen = _toy()
    help_text = CliRunner().invoke(toy, ["--help"], terminal_width=200).output
    assert "[default: 3]" in help_text and "[default: 100]" in help_text
    assert "[default: config 0.9, other 0.1]" in help_text  # each config keeps its own
    assert CliRunner().invoke(toy, []).exit_code == 0
    assert seen["config"] == _Config() and seen["other"] == _Other()
    result = CliRunner().invoke(toy, ["--size", "7", "--limit", "0", "--top-p", "0.5"])
    assert result.exit_code == 0, result.output
    assert seen["config"] == _Config(7, None, _Params(0.9, 0.5))
    CliRunner().invoke(toy, ["--temperature", "0.3"])
    assert seen["config"].params.temperature == 0.3 and seen["other"].params.temperature == 0.3
    bad = CliRunner().invoke(toy, ["--size", "many"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_config_option_refuses_a_default_of_its_own():
    with pytest.raises(TypeError, match="config field"):
        config_option("--size", config=_Config, default=4)(lambda **kw: None)


def test_train_help_shows_each_recipes_defaults():
    from trainers.core.config import DPOConfig, SFTConfig
    from trainers.rl.config import RLVRConfig

    for name, config in (("sft", SFTConfig), ("dpo", DPOConfig), ("rlvr", RLVRConfig)):
        text = CliRunner().invoke(main, ["train", name, "--help"], terminal_width=200).output
        line = next(row for row in text.splitlines() if "--learning-rate" in row)
        assert f"[default: {config().learning_rate}]" in line, (name, line)
        assert f"[default: {config().batch_size}]" in text
    from trainers.core.config import DPO_LOSSES, SCHEDULES

    text = CliRunner().invoke(main, ["train", "dpo", "--help"], terminal_width=200).output
    assert f"[{'|'.join(SCHEDULES)}]" in text and f"[{'|'.join(DPO_LOSSES)}]" in text
    bad = CliRunner().invoke(main, ["train", "dpo", "--loss", "nope"])
    assert bad.exit_code == 2 and "'nope' is not one of" in bad.output


def test_train_flags_override_the_yaml_file_only_where_given(tmp_path, monkeypatch):
    import trainers.recipes
    from trainers.recipes import Recipe

    seen = {}

    def run(self, config):
        seen["config"] = config
        return {}

    monkeypatch.setattr(Recipe, "run", run)
    real = trainers.recipes.get_recipe("dpo")
    fake = dataclasses.replace(real, summary=lambda summary: ["done"])
    monkeypatch.setattr(trainers.recipes, "get_recipe", lambda name: fake)
    path = tmp_path / "run.yaml"
    path.write_text("data: d\nmodel: m\noutput: o\nseed: 7\nlearning_rate: 0.001\npacking: false\n")
    result = CliRunner().invoke(main, ["train", "dpo", "--config", str(path), "--beta", "0.1"])
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert (config.seed, config.learning_rate, config.packing, config.beta) == (
        7,
        0.001,
        False,
        0.1,
    )
    assert config.loss == "dpo_norm"  # the class default, neither in the file nor given


def test_verify_answers_help_lists_the_registry():
    text = " ".join(CliRunner().invoke(main, ["verify-answers", "--help"]).output.split())
    for name in [*VERIFIERS, *ALIASES]:
        assert name in text
    result = CliRunner().invoke(main, ["verify-answers", "no-such-verifier", "-", "1"], input="1")
    assert result.exit_code == 1 and "unknown verifier" in result.output


def test_synth_skills_come_from_the_skill_list():
    text = " ".join(
        CliRunner().invoke(main, ["synth", "--help"], terminal_width=200).output.split()
    )
    assert f"[default: {','.join(SKILLS)}]" in text
    bad = CliRunner().invoke(
        main, ["synth", "out.jsonl", "--model", "m", "--skills", "math,poetry"]
    )
    assert bad.exit_code == 2 and "unknown skills ['poetry']" in bad.output
    assert json.dumps(list(SKILLS)).replace('"', "'") in bad.output
