"""Code-verifier throughput: HumanEval-style problems (a function and a few asserts),
checked one after another. `python benchmarks/verifier_bench.py [--n 40] [--no-bwrap]`."""

from __future__ import annotations

import argparse
import time

from curate.verifiers.code_tests import CodeLimits, run_tests

SOLUTION = "def add(a, b):\n    return a + b\n"
TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 5"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--no-bwrap", action="store_true")
    args = parser.parse_args()
    limits = CodeLimits(use_bwrap=not args.no_bwrap)
    start = time.perf_counter()
    for _ in range(args.n):
        assert run_tests(SOLUTION, TESTS, limits) == [True, True, False]
    seconds = time.perf_counter() - start
    print(
        f"{args.n} problems x {len(TESTS)} tests: {seconds:.2f} s, "
        f"{args.n / seconds:.1f} problems/s"
    )


if __name__ == "__main__":
    main()
