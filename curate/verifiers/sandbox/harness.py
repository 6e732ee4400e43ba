"""Run a solution against tests in the sandbox; the parent never runs candidate code."""

from __future__ import annotations

import ast
import contextlib
import functools
import json
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

_DRIVER = (Path(__file__).parent / "driver.py").read_text()


@dataclass(frozen=True)
class SandboxConfig:
    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 1 << 30
    max_processes: int = 64
    max_file_bytes: int = 16 << 20
    max_open_files: int = 64
    use_bwrap: bool = True  # False forces the fallback layers
    use_unshare: bool = True


@dataclass(frozen=True)
class SandboxResult:
    passed: list[bool]
    layers: tuple[str, ...]
    timed_out: bool = False
    notes: list[str] = field(default_factory=list)


@functools.cache
def _bwrap_works() -> bool:
    if shutil.which("bwrap") is None:
        return False
    try:
        done = subprocess.run([*_bwrap_prefix("/tmp"), "true"], capture_output=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@functools.cache
def _unshare_prefix() -> tuple[str, ...] | None:
    if shutil.which("unshare") is None:
        return None
    base = ("unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc")
    for prefix in (base, (*base[:1], "--map-root-user", *base[1:])):
        try:
            done = subprocess.run([*prefix, "true"], capture_output=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return prefix
    return None


def _bwrap_prefix(work: str) -> list[str]:
    return [
        "bwrap",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/var/tmp",
        "--bind",
        work,
        work,
        "--chdir",
        work,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--",
    ]


def _limits(config: SandboxConfig):
    def apply() -> None:
        for name, value in (
            (resource.RLIMIT_CPU, config.cpu_s),
            (resource.RLIMIT_AS, config.memory_bytes),
            (resource.RLIMIT_NPROC, config.max_processes),
            (resource.RLIMIT_FSIZE, config.max_file_bytes),
            (resource.RLIMIT_NOFILE, config.max_open_files),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(name, (value, value))

    return apply


def guard_equality(test: str, name: str) -> str:
    """`assert a == b` rewritten to `assert name(a, b)` (exact builtin equality)."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return test

    class Guard(ast.NodeTransformer):
        def visit_Compare(self, node: ast.Compare) -> ast.AST:
            self.generic_visit(node)
            if len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
                call = ast.Call(ast.Name(name, ast.Load()), [node.left, node.comparators[0]], [])
                return ast.copy_location(call, node)
            return node

    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            node.test = Guard().visit(node.test)
    return ast.unparse(ast.fix_missing_locations(tree))


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_sandboxed(
    solution: str, tests: list[str], config: SandboxConfig = SandboxConfig()
) -> SandboxResult:
    """Which tests pass after `solution`, each decided by the driver outside candidate code."""
    layers = ["fork-per-test", "audit-hook", "rlimits", "clean-env", "private-tmp", "group-kill"]
    same_name = f"_same_{secrets.token_hex(8)}"
    guarded = [guard_equality(t, same_name) for t in tests]
    spec = json.dumps({"solution": solution, "tests": guarded, "same_name": same_name})
    with tempfile.TemporaryDirectory(prefix="skillmix-code-") as tmp:
        work = os.path.realpath(tmp)
        command = [sys.executable, "-I", "-S", "-c", _DRIVER]
        if config.use_bwrap and _bwrap_works():
            command = [*_bwrap_prefix(work), *command]
            layers.insert(0, "bwrap")
        elif config.use_unshare and (prefix := _unshare_prefix()) is not None:
            command = [*prefix, *command]
            layers.insert(0, "unshare")
        child = subprocess.Popen(
            command,
            cwd=work,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_limits(config),
            start_new_session=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        )
        out, timed_out = b"", False
        try:
            assert child.stdin is not None and child.stdout is not None
            with contextlib.suppress(BrokenPipeError):
                child.stdin.write(spec.encode())
                child.stdin.close()
            deadline = time.monotonic() + config.timeout_s
            fd = child.stdout.fileno()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([fd], [], [], min(left, 0.5))
                if ready:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    out += chunk
                elif child.poll() is not None:
                    break
        finally:
            _kill_group(child.pid)
            child.kill()
            child.wait(timeout=5)
            child.stdout.close()
    verdicts: dict[int, bool] = {}
    for line in out.decode("ascii", "replace").splitlines():
        index, _, verdict = line.partition(" ")
        if index.isdigit():
            verdicts[int(index)] = verdict == "pass"
    passed = [verdicts.get(i, False) for i in range(len(tests))]
    return SandboxResult(passed, tuple(layers), timed_out)
