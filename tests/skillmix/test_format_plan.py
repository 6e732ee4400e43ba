"""format_plan: what `skillmix run --dry-run` prints, one line per stage with its action."""

from __future__ import annotations

from click.testing import CliRunner

from skillmix.cli import main
from skillmix.pipeline import format_plan, load_run_recipe, plan_run, run_pipeline
from tests.skillmix.pipeline_helpers import write_recipe, write_sources

STAGES = [
    {"decontaminate": {"evals": ["leak=evals.jsonl:question"]}},
    {"decontaminate": {"name": "second", "evals": ["humaneval"]}},
]


def test_plan_lines_name_folder_type_key_and_action(tmp_path):
    write_sources(tmp_path)
    recipe = load_run_recipe(write_recipe(tmp_path, STAGES))
    planned = plan_run(recipe)
    lines = format_plan(recipe).splitlines()
    assert lines[0] == f"run directory: {recipe.run_dir}"
    assert len(lines) == 1 + len(planned) == 3
    for line, stage in zip(lines[1:], planned, strict=True):
        assert line.split() == [stage.spec.folder, "decontaminate", "key", stage.key, "run"]
    assert "second" in lines[2]

    run_pipeline(recipe, echo=lambda _line: None)
    again = format_plan(recipe, tmp_path / "run").splitlines()
    assert all(line.endswith("reuse (finished, same inputs and config)") for line in again[1:])
    other = format_plan(recipe, tmp_path / "läufe").splitlines()  # a non-ASCII folder
    assert other[0] == f"run directory: {tmp_path / 'läufe'}"
    assert all(line.endswith(" run") for line in other[1:])

    printed = CliRunner().invoke(main, ["run", str(tmp_path / "recipe.yaml"), "--dry-run"])
    assert printed.exit_code == 0, printed.output
    assert printed.output == format_plan(recipe) + "\n"
