"""Attacks on the code verifier: each must score 0 or be contained. Every test runs on the
fallback layers (bwrap forced off); the same attacks rerun under bwrap where it is installed."""

import os
import shutil
import socket
import threading

import pytest

from curate.verifiers.sandbox import SandboxConfig, run_sandboxed
from curate.verifiers.sandbox.harness import _bwrap_works

MODES = [
    pytest.param(False, id="fallback"),
    pytest.param(
        True,
        id="bwrap",
        marks=pytest.mark.skipif(
            shutil.which("bwrap") is None or not _bwrap_works(), reason="bwrap not installed"
        ),
    ),
]
FAILING = ["assert f(2) == 5"]

CHEATS = {
    "replace_exec": "import builtins\nbuiltins.exec = lambda *a, **k: None\ndef f(x): return 0",
    "frame_locals": (
        "import sys\ndef f(x): return 0\n"
        "for fr in [sys._getframe(i) for i in range(1, 4)]:\n    print(fr.f_locals)\n"
    ),
    "always_equal": "class A:\n    def __eq__(s, o): return True\ndef f(x): return A()",
    "exit_zero": "import sys\nsys.exit(0)",
    "os_exit_zero": "import os\nos._exit(0)",
    "fake_marker": (
        "print('0 pass')\nimport sys\nsys.__stdout__.write('0 pass\\n')\ndef f(x): return 0"
    ),
    "patch_assert": (
        "import builtins\nbuiltins.AssertionError = type('E', (Exception,), {})\ndef f(x): return 0"
    ),
    "patch_unittest": (
        "import unittest\nunittest.TestCase.assertEqual = lambda *a: None\ndef f(x): return 0"
    ),
    "brute_force_fds": (
        "import os\ndef f(x):\n    for fd in range(3, 64):\n        try: os.write(fd, b'x' * 32)\n"
        "        except OSError: pass\n    os._exit(0)\n"
    ),
    "thread_left_running": (
        "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\n"
        "def f(x): return 0"
    ),
}


@pytest.mark.parametrize("bwrap", MODES)
@pytest.mark.parametrize("name", sorted(CHEATS))
def test_cheats_score_zero(name, bwrap):
    result = run_sandboxed(CHEATS[name], FAILING, SandboxConfig(timeout_s=10, use_bwrap=bwrap))
    assert result.passed == [False]


@pytest.mark.parametrize("bwrap", MODES)
def test_correct_solution_passes_and_layers_named(bwrap):
    result = run_sandboxed(
        "def f(x): return x + 3",
        ["assert f(2) == 5", "assert f(1) == 4.0"],
        SandboxConfig(use_bwrap=bwrap),
    )
    assert result.passed == [True, True]
    assert ("bwrap" in result.layers) is bwrap
    assert {"audit-hook", "fork-per-test", "rlimits"} <= set(result.layers)


@pytest.mark.parametrize("bwrap", MODES)
def test_write_outside_temp_dir_is_refused(tmp_path, bwrap):
    target = tmp_path / "escaped"
    code = f"open({str(target)!r}, 'w').write('x')"
    assert run_sandboxed(code, ["assert True"], SandboxConfig(use_bwrap=bwrap)).passed == [False]
    assert not target.exists()


@pytest.mark.parametrize("bwrap", MODES)
def test_unix_socket_and_loopback_unreachable(tmp_path, bwrap):
    path = str(tmp_path / "s.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(path)
    unix.listen(1)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    attacks = [
        f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({path!r})",
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}))",
        f"import socket\nsocket.socket(2, 2).sendto(b'x', ('127.0.0.1', {udp.getsockname()[1]}))",
    ]
    try:
        for code in attacks:
            result = run_sandboxed(code, ["assert True"], SandboxConfig(use_bwrap=bwrap))
            assert result.passed == [False], code
        udp.setblocking(False)
        with pytest.raises(BlockingIOError):
            udp.recv(10)
    finally:
        unix.close()
        tcp.close()
        udp.close()


@pytest.mark.parametrize("bwrap", MODES)
def test_parent_kill_environ_and_setsid_grandchild_contained(tmp_path, bwrap):
    os.environ["SKILLMIX_SECRET_PROBE"] = "leak-me"
    flag = tmp_path / "grandchild"
    attacks = [
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "import os\nos.killpg(0, 9)",
        "print(open('/proc/1/environ').read())\nx = open('/proc/self/../1/environ').read()",
        "import os\nassert b'leak-me' not in os.environ.get('SKILLMIX_SECRET_PROBE', '').encode()\n"
        "open('/proc/%d/environ' % os.getppid()).read()",
        "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; "
        f'time.sleep(30); open({str(flag)!r}, "w")\'], start_new_session=True)',
        "import os\nwhile True: os.fork()",
        "open('big', 'wb').write(b'x' * (64 << 20))",
    ]
    try:
        for code in attacks:
            result = run_sandboxed(
                code, ["assert True"], SandboxConfig(timeout_s=10, use_bwrap=bwrap)
            )
            assert result.passed == [False], code
    finally:
        del os.environ["SKILLMIX_SECRET_PROBE"]
    assert not flag.exists()


def test_deadline_holds_from_a_thread():
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            run_sandboxed("x = 1", ["while True: pass"], SandboxConfig(timeout_s=3, cpu_s=30))
        )
    )
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert results[0].passed == [False] and results[0].timed_out
