"""Options and helpers shared by the CLI commands.

An option that sets a field of a room's config is a `ConfigOption`: its default is read from
the config class (or a function's signature), so the value a run uses and the value `--help`
shows have one source. A callback then builds the config by keyword with `build(Config)`.
Config classes are named as "module:Class" where importing the room would slow down
`skillmix --help` (torch, sympy); they are imported when an option's default is needed.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from manifests import ON_BAD_ROW, Accounting, BadRowError
from manifests.rejects import REJECTS_NAME
from manifests.schemas import TRAINING_KINDS
from skillmix.defaults import ConfigRef, field_default, resolve

KIND_CHOICE = click.Choice(TRAINING_KINDS)
BACKEND_OPTIONS = "curate.backends.factory:BackendOptions"

Decorator = Callable[[Callable], Callable]


def options(*decorators: Decorator) -> Decorator:
    """Several option decorators as one, applied in the order written."""

    def apply(func: Callable) -> Callable:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


class OwnedChoice(click.Choice):
    """A choice among a constant of the room that owns it ("module:NAME"), imported when
    the option is parsed or its help shown, not when `skillmix` starts."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.case_sensitive = True

    @functools.cached_property
    def choices(self) -> tuple[Any, ...]:  # type: ignore[override]
        return tuple(resolve(self.ref))


class ConfigOption(click.Option):
    """An option that sets one field of one or more configs, defaulting to the field's
    default there. `config` is one reference or a mapping {label: reference} for an option
    several configs share; where their defaults differ, the option defaults to None (each
    config keeps its own) and --help lists them by label. With `zero_is_off`, 0 sets the
    field to None (a limit turned off)."""

    def __init__(
        self,
        *decls: Any,
        config: ConfigRef | Mapping[str, ConfigRef],
        field: str | None = None,
        zero_is_off: bool = False,
        **kwargs: Any,
    ) -> None:
        if "default" in kwargs:
            raise TypeError("a ConfigOption's default is its config field's default")
        kwargs.setdefault("show_default", True)
        super().__init__(*decls, **kwargs)
        self.configs = dict(config) if isinstance(config, Mapping) else {"": config}
        self.field = field or str(self.name)
        self.zero_is_off = zero_is_off  # 0 on the command line: the config's None (off)

    def targets(self) -> list[Any]:
        return [resolve(ref) for ref in self.configs.values()]

    def config_defaults(self) -> dict[str, Any]:
        return {label: field_default(ref, self.field) for label, ref in self.configs.items()}

    def config_default(self) -> Any:
        values = list(self.config_defaults().values())
        value = values[0] if all(v == values[0] for v in values) else None
        if isinstance(value, (tuple, list)) and not self.multiple:  # a comma-separated option
            value = ",".join(map(str, value))
        return None if value == "" else value  # "" in a config means: not set

    def get_default(self, ctx: click.Context, call: bool = True) -> Any:
        return self.config_default()

    def to_info_dict(self) -> dict[str, Any]:
        return {**super().to_info_dict(), "default": self.config_default()}

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        defaults = self.config_defaults()
        if len(set(map(repr, defaults.values()))) > 1:
            extra["default"] = ", ".join(f"{label} {value}" for label, value in defaults.items())
        return extra


def config_option(*decls: str, config: Any, field: str | None = None, **kwargs: Any) -> Decorator:
    return click.option(*decls, cls=ConfigOption, config=config, field=field, **kwargs)


def option_for(config: Any) -> Callable[..., Decorator]:
    """`config_option` with the config filled in, for a command's run of options."""
    return functools.partial(config_option, config=config)


def config_values(target: ConfigRef, *, given_only: bool = False) -> dict[str, Any]:
    """The current command's values for the options that set fields of `target`, by field
    name; None (an unset option without a default) is left out, so the target's default
    holds. `given_only` keeps only the options given on the command line."""
    ctx = click.get_current_context()
    target = resolve(target)
    values: dict[str, Any] = {}
    for param in ctx.command.params:
        if not isinstance(param, ConfigOption) or target not in param.targets():
            continue
        value = ctx.params.get(str(param.name))
        if param.zero_is_off and value == 0:
            values[param.field] = None
            continue
        if value is None:
            continue
        if given_only and ctx.get_parameter_source(str(param.name)) is ParameterSource.DEFAULT:
            continue
        values[param.field] = value
    return values


def build(target: ConfigRef, **fixed: Any) -> Any:
    """`target` built by keyword from the current command's options (and `fixed`). Values
    of nested fields (`params.top_p`) replace those fields of the nested default."""
    nested: dict[str, dict[str, Any]] = {}
    values: dict[str, Any] = {}
    for name, value in config_values(target).items():
        head, _, rest = name.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            values[name] = value
    for head, parts in nested.items():
        values[head] = dataclasses.replace(field_default(target, head), **parts)
    return resolve(target)(**{**values, **fixed})


def csv_values(ctx: click.Context, param: click.Parameter, value: Any) -> tuple[str, ...] | None:
    """A comma-separated option as a tuple (a tuple default passes through); an empty one
    is None, so the config's default holds."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return tuple(part.strip() for part in (value or "").split(",") if part.strip()) or None


def on_bad_row_option(func: Callable) -> Callable:
    return config_option(
        "--on-bad-row",
        config="manifests.rows:read_rows",  # the gate's default, as every reader has it
        type=click.Choice(ON_BAD_ROW),
        help="error: stop at the first bad row, naming file, row and problem. "
        f"skip: write each bad row with its reason to {REJECTS_NAME} and count it.",
    )(func)


def backend_options(func: Callable) -> Callable:
    """How a generation backend is reached: the fields of curate's BackendOptions."""
    opt = option_for(BACKEND_OPTIONS)
    return options(
        opt(
            "--backend",
            field="kind",
            type=OwnedChoice("curate.backends.factory:BACKENDS"),
            help="openai: any OpenAI-compatible server (vLLM, SGLang, TGI, hosted); "
            "transformers: a local model.",
        ),
        opt("--base-url", help="OpenAI-compatible endpoint."),
        opt("--api-key-env", help="Environment variable that holds the API key (never written)."),
        opt("--concurrency", type=click.IntRange(1), help="Requests in flight at once."),
        opt(
            "--timeout",
            "timeout_s",
            type=click.FloatRange(0, min_open=True),
            help="Seconds per request before retry.",
        ),
        opt(
            "--max-retries",
            type=click.IntRange(0),
            help="Retries on 429, 5xx, timeouts and malformed answers (exponential backoff "
            "with jitter).",
        ),
        opt(
            "--tpm",
            "tokens_per_minute",
            type=click.FloatRange(1),
            help="Tokens-per-minute limit (prompt estimate + max tokens reserved per request).",
        ),
        opt(
            "--batch-size",
            type=click.IntRange(1),
            help="transformers: prompts per generate() call.",
        ),
    )(func)


def mapping_option(func: Callable) -> Callable:
    return click.option(
        "--map",
        "mapping",
        multiple=True,
        metavar="TARGET=FIELD",
        help="Read input field FIELD as TARGET (e.g. --map messages=dialog, "
        "--map instruction=question). Repeatable.",
    )(func)


def parse_mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        target, sep, field = pair.partition("=")
        if not sep or not target or not field:
            raise click.BadParameter(f"expected TARGET=FIELD, got {pair!r}", param_hint="--map")
        mapping[target] = field
    return mapping


def echo_accounting(acc: Accounting, rejects_path: Path | None = None) -> None:
    """The accounting line, and where rejected rows went (a path: some were rejected)."""
    click.echo(acc.summary(), err=True)
    if rejects_path is not None:
        click.echo(f"rejected rows with reasons: {rejects_path}", err=True)


def fail_on_bad_row(exc: BadRowError) -> click.ClickException:
    if exc.row is None:  # the whole input is unusable; skipping rows would not help
        return click.ClickException(str(exc))
    return click.ClickException(
        f"{exc}\n(rerun with --on-bad-row=skip to write bad rows to {REJECTS_NAME} and go on)"
    )
