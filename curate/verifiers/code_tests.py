"""Code verifier: run a completion's Python against its tests in a separate, limited process.

Never runs candidate code in the calling process. The child gets a CPU-time and an
address-space limit, a wall-clock timeout, an empty temporary working directory, an
isolated interpreter (`-I`), and no network: a fresh network namespace through
`unshare` where the kernel allows it, and in any case a socket module that refuses to
connect.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"```(?:python|py|Python)?[ \t]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class CodeLimits:
    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 1 << 30


# The child's driver: forbid sockets, run the solution, then each test, reporting passes.
_DRIVER = r"""
import json, os, socket, sys
def _refuse(*a, **k):
    raise OSError("network access is disabled in the code verifier")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
def _main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    os.remove(sys.argv[1])  # the candidate code must not read the pass marker
    mark, env = spec["mark"], {"__name__": "__main__"}
    try:
        exec(compile(spec["solution"], "solution.py", "exec"), env)
    except BaseException:
        return
    for i, test in enumerate(spec["tests"]):
        try:
            exec(compile(test, f"test_{i}.py", "exec"), env)
        except BaseException:
            continue
        sys.__stdout__.write(f"{mark} {i}\n")
        sys.__stdout__.flush()
_main()
"""


def extract_code(completion: str) -> str:
    """The last fenced Python block of the completion, or the completion when it has none."""
    blocks = _FENCE.findall(completion)
    return blocks[-1] if blocks else completion


def parse_tests(ground_truth: str) -> list[str]:
    """Tests from a ground truth: a JSON list of test snippets, or one block of test code."""
    text = ground_truth.strip()
    if text.startswith("["):
        try:
            tests = json.loads(text)
        except json.JSONDecodeError:
            tests = None
        if isinstance(tests, list) and all(isinstance(t, str) for t in tests):
            return tests
    if not text:
        raise ValueError("code ground truth holds no tests")
    return [ground_truth]


@functools.cache
def _network_namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(
            ["unshare", "--net", "--map-root-user", "true"], capture_output=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _set_limits(limits: CodeLimits):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_tests(solution: str, tests: list[str], limits: CodeLimits = CodeLimits()) -> list[bool]:
    """Which tests pass when run after `solution` in a limited child process."""
    with tempfile.TemporaryDirectory(prefix="skillmix-code-") as tmp:
        spec = Path(tmp) / "spec.json"
        mark = f"PASS-{secrets.token_hex(16)}"
        spec.write_text(json.dumps({"solution": solution, "tests": tests, "mark": mark}))
        command = [sys.executable, "-I", "-c", _DRIVER, str(spec)]
        if _network_namespace_works():
            command = ["unshare", "--net", "--map-root-user", *command]
        child = subprocess.Popen(
            command,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=_set_limits(limits),
            start_new_session=True,  # its own process group: children die with it
            env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        )
        try:
            stdout, _ = child.communicate(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(child.pid)
            stdout, _ = child.communicate()
        finally:
            _kill_group(child.pid)  # whatever the candidate left running in the background
    passed = {int(line.split()[1]) for line in stdout.splitlines() if line.startswith(mark + " ")}
    return [i in passed for i in range(len(tests))]


def verify_code(completion: str, ground_truth: str) -> float:
    """Share of the tests that pass against the completion's code, in [0, 1]."""
    tests = parse_tests(ground_truth)
    results = run_tests(extract_code(completion), tests)
    return sum(results) / len(results)
