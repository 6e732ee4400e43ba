"""Code verifier: run a completion's Python against its tests in a separate, limited process.

Never runs candidate code in the calling process; each test's verdict is made by the
sandbox's driver outside candidate code (layers in `curate.verifiers.sandbox`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from curate.verifiers.sandbox import SandboxConfig, SandboxResult, run_sandboxed

_FENCE = re.compile(r"```(?:python|py|Python)?[ \t]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class CodeLimits:
    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 1 << 30
    use_bwrap: bool = True  # False forces the fallback layers


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


def run_tests(solution: str, tests: list[str], limits: CodeLimits = CodeLimits()) -> list[bool]:
    """Which tests pass when run after `solution` in the sandbox (see `sandbox`)."""
    return run_checked(solution, tests, limits).passed


def run_checked(
    solution: str, tests: list[str], limits: CodeLimits = CodeLimits()
) -> SandboxResult:
    """Per-test verdicts and the containment layers that ran."""
    config = SandboxConfig(
        timeout_s=limits.timeout_s,
        cpu_s=limits.cpu_s,
        memory_bytes=limits.memory_bytes,
        use_bwrap=limits.use_bwrap,
    )
    return run_sandboxed(solution, tests, config)


def verify_code(completion: str, ground_truth: str) -> float:
    """Share of the tests that pass against the completion's code, in [0, 1]."""
    tests = parse_tests(ground_truth)
    results = run_tests(extract_code(completion), tests)
    return sum(results) / len(results)
