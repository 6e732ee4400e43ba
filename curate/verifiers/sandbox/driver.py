"""The in-sandbox driver (run as a script by `python -I`; imports nothing of skillmix).

Trusted part: reads the spec from stdin, then for each test forks a fresh child that runs
the solution and that one test. The child holds no report channel but a private pipe and
a per-test token; before any candidate code runs it installs an audit hook (hooks can
never be removed) that refuses frame and gc introspection, ctypes, process creation,
signals, sockets, /proc, and writes outside the work dir. The driver alone writes
`index verdict` lines to its saved stdout, which the children do not hold.
"""

import json
import marshal
import os
import secrets
import sys

_FRAME_ATTRS = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "f_locals", "f_globals"}
_REFUSED = {
    "sys._current_frames",
    "sys._current_exceptions",
    "sys.settrace",
    "sys.setprofile",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "os.fork",
    "os.forkpty",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.kill",
    "os.killpg",
    "os.setsid",
    "os.setpgid",
    "os.putenv",
    "os.unsetenv",
    "os.chdir",
    "os.chroot",
    "os.chmod",
    "os.chown",
    "os.link",
    "os.symlink",
    "os.truncate",
    "subprocess.Popen",
    "pty.spawn",
    "socket.connect",
    "socket.bind",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "signal.pthread_kill",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "ctypes.addressof",
    "ctypes.cdata",
    "ctypes.call_function",
    "mmap.__new__",
    "_posixsubprocess.fork_exec",
    "cpython.run_command",
    "cpython._PySys_ClearAuditHooks",
    "sys.addaudithook",
    "code.__new__",
    "function.__new__",
    "os.fwalk",
    "os.dup2",
    "os.dup",
    "fcntl.fcntl",
    "fcntl.ioctl",
    "resource.setrlimit",
    "resource.prlimit",
    "os.openpty",
    "shutil.rmtree",
}
_PATH_EVENTS = {"os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.utime"}
_LIST_EVENTS = {"os.listdir", "os.scandir"}  # imports list sys.path dirs: only /proc is refused


def _install_hook(work: str) -> None:
    realpath, startswith = os.path.realpath, str.startswith
    refuse = PermissionError

    def inside(path: object) -> bool:
        if isinstance(path, int):
            return False
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        full = realpath(str(path))
        return full == work or startswith(full, work + "/")

    def hook(event: str, args: tuple) -> None:
        if event in _REFUSED:
            raise refuse(f"{event} is refused in the code verifier")
        if event == "object.__getattr__" and args[1] in _FRAME_ATTRS:
            raise refuse("frame introspection is refused in the code verifier")
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int):
                raise refuse("opening a file descriptor is refused in the code verifier")
            text = str(path if not isinstance(path, bytes) else path.decode("utf-8", "replace"))
            if startswith(realpath(text), "/proc") or startswith(realpath(text), "/sys"):
                raise refuse("reading /proc and /sys is refused in the code verifier")
            writes = (mode is not None and any(c in mode for c in "wax+")) or (flags & 0o3)
            if writes and not inside(text):
                raise refuse("writing outside the work dir is refused in the code verifier")
        elif event in _LIST_EVENTS and args and startswith(realpath(str(args[0])), "/proc"):
            raise refuse("listing /proc is refused in the code verifier")
        elif event in _PATH_EVENTS and not inside(args[0] if args else ""):
            raise refuse(f"{event} outside the work dir is refused in the code verifier")

    sys.addaudithook(hook)


def _same(left: object, right: object) -> bool:
    # Equality the candidate cannot override: marshal takes only exact builtin types
    # (recursively), so once both sides marshal, `==` is builtin equality throughout.
    try:
        marshal.dumps(left)
        marshal.dumps(right)
    except ValueError:
        return False
    return left == right


def _child(
    solution: str, test: str, index: int, token: bytearray, write_fd: int, work: str, same_name: str
) -> None:
    run, build, write, read, exit_now = exec, compile, os.write, os.read, os._exit
    # The token leaves every Python object: it waits in a pipe until the test has run.
    keep_r, keep_w = os.pipe()
    write(keep_w, bytes(token))
    os.close(keep_w)
    token[:] = bytes(len(token))
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    namespace = {"__name__": "__main__", "__builtins__": __builtins__, same_name: _same}
    try:
        solution_code = build(solution, "solution.py", "exec")
        test_code = build(test, f"test_{index}.py", "exec")
    except BaseException:
        exit_now(3)
    _install_hook(work)
    try:
        run(solution_code, namespace)
    except BaseException:
        exit_now(4)
    namespace[same_name] = _same
    try:
        run(test_code, namespace)
    except BaseException:
        exit_now(5)
    write(write_fd, read(keep_r, 64))
    exit_now(0)


def main() -> None:
    report = os.dup(1)
    spec = json.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    work = os.path.realpath(os.getcwd())
    tests, same_name = spec["tests"], spec["same_name"]
    for index, test in enumerate(tests):
        token = bytearray(secrets.token_bytes(32))
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            os.close(report)
            _child(spec["solution"], test, index, token, write_fd, work, same_name)
        os.close(write_fd)
        received = b""
        while True:
            chunk = os.read(read_fd, 4096)
            if not chunk or len(received) > 4096:
                break
            received += chunk
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
        ok = received == bytes(token) and os.waitstatus_to_exitcode(status) == 0
        os.write(report, f"{index} {'pass' if ok else 'fail'}\n".encode())
    os.close(report)


main()
