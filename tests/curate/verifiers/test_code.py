import json

from curate.verifiers import CodeLimits, extract_code, run_tests, verify

SOLUTION = """Here is the function.

```python
def is_even(n: int) -> bool:
    return n % 2 == 0
```
"""

FAST = CodeLimits(timeout_s=5.0, cpu_s=2, memory_bytes=512 << 20)


def test_share_of_tests_passed():
    tests = ["assert is_even(2)", "assert not is_even(3)", "assert is_even(5)"]
    assert abs(verify("code", SOLUTION, json.dumps(tests)) - 2 / 3) < 1e-9


def test_single_test_block():
    block = "assert is_even(4)\nassert not is_even(7)\n"
    assert verify("code", SOLUTION, block) == 1.0
    assert verify("code", "def is_even(n):\n    return True\n", block) == 0.0


def test_extract_code_takes_last_fenced_block():
    text = "```python\nx = 1\n```\nthen\n```python\nx = 2\n```"
    assert extract_code(text).strip() == "x = 2"


def test_code_runs_outside_the_calling_process():
    # A solution that exits the interpreter must not take the caller down.
    assert run_tests("import os\nos._exit(0)", ["assert True"], FAST) == [False]


def test_infinite_loop_is_stopped_and_other_tests_kept():
    # Each test runs in its own process: a loop stopped by its CPU limit fails alone.
    tests = ["assert True", "while True: pass", "assert True"]
    assert run_tests("x = 1", tests, FAST) == [True, False, True]


def test_memory_limit():
    assert run_tests("data = bytearray(2 * 1024**3)", ["assert True"], FAST) == [False]
    assert run_tests("data = bytearray(10)", ["assert len(data) == 10"], FAST) == [True]


def test_no_network():
    code = (
        "import socket\ndef fetch():\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
    )
    assert run_tests(code, ["fetch()"], FAST) == [False]
    assert run_tests(code, ["\ntry:\n    fetch()\nexcept OSError:\n    pass\n"], FAST) == [True]


def test_printing_a_fake_pass_line_does_not_count():
    code = "print('PASS 0')\nprint('PASS 1')"
    assert run_tests(code, ["assert False", "assert False"], FAST) == [False, False]


def test_stdin_is_closed_and_background_children_are_killed(tmp_path):
    flag = tmp_path / "child-still-ran"
    code = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', "
        f'\'import time; time.sleep(1.5); open({str(flag)!r}, "w").write("x")\'])\n'
        "name = input()\n"  # EOF at once: stdin is /dev/null
    )
    assert run_tests(code, ["assert True"], FAST) == [False]
    import time

    time.sleep(2.0)
    assert not flag.exists()
