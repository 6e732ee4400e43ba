"""A sandbox for candidate code: the pass/fail decision is made outside the candidate's reach.

Layers (each result names those that ran):
- `bwrap`: bubblewrap, when installed and allowed: new user, pid, net, ipc and uts
  namespaces, a read-only root, private /tmp, a clean environment, dies with the verifier.
- `unshare`: without bwrap, `unshare` (root, or a user namespace): no network, a private
  pid namespace (everything left behind dies with it) and its own /proc.
- `rlimits`: address space, CPU seconds, processes, file size, open files, no core files.
- `audit-hook`: in every test's process, before candidate code runs: no frame or gc
  introspection, ctypes, process creation, signals, sockets, /proc, or writes outside
  the work dir.
- `fork-per-test`: each test runs in a fresh fork of the driver, after the solution, and
  proves it finished by writing a per-test random token to a pipe only the driver reads;
  `==` in test asserts is the harness's own (exact builtin values only).
- `clean-env`, `private-tmp`, `group-kill`: no inherited environment, an empty work dir,
  and the whole process group killed at the deadline (then reaped; reads are bounded).
"""

from __future__ import annotations

from curate.verifiers.sandbox.harness import SandboxConfig, SandboxResult, run_sandboxed

__all__ = ["SandboxConfig", "SandboxResult", "run_sandboxed"]
