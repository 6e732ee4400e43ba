"""Real-Slurm tests: collected only when asked for.

`make test-cluster` brings up a one-node Slurm and sets SKILLMIX_TEST_CLUSTER=1: there a
missing cluster fails the tests. Named on the command line (`pytest tests/cluster`) they run
against whatever Slurm `sinfo` reaches, and skip, saying why, when none answers. A plain
`pytest`/`make test` does not collect them at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CLUSTER_ENV = "SKILLMIX_TEST_CLUSTER"
HERE = Path(__file__).parent.resolve()


def _named(config: pytest.Config) -> bool:
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return False
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    return None if os.environ.get(CLUSTER_ENV) or _named(config) else True


def slurm_problem() -> str | None:
    """Why no Slurm answers, or None when `sinfo` lists an idle or mixed node."""
    if not shutil.which("sinfo"):
        return "the Slurm client commands (sinfo, sbatch) are not installed"
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        return "sinfo did not answer in 20 s"
    if done.returncode != 0:
        return f"sinfo failed: {done.stderr.strip()}"
    if not {"idle", "mixed", "allocated"} & set(done.stdout.split()):
        return f"no usable Slurm node (sinfo says {done.stdout.split()})"
    return None


@pytest.fixture(scope="session", autouse=True)
def slurm_cluster() -> None:
    problem = slurm_problem()
    if problem is None:
        return
    if os.environ.get(CLUSTER_ENV):
        pytest.fail(f"{CLUSTER_ENV} is set but no Slurm is reachable: {problem}")
    pytest.skip(f"no Slurm reachable ({problem}); `make test-cluster` starts one")
