"""The measuring sandbox: run code nobody trusts, tell whether it is right, and time it honestly.

How a candidate runs. `Sandbox` keeps one warm worker per core ("zygote", `worker.py`, pinned to its
core). A zygote is a Python process started under bubblewrap with its own pid, network, ipc and uts
namespaces, a read-only view of the host, a fresh ``/dev``, and a private, writable ``/tmp`` (the work
dir is ``/tmp/work``); started as root, it drops to an unprivileged uid (65534) at once. The zygote
never runs candidate code: for every run it forks a child that starts a new session, takes its rlimits
(CPU seconds, address space, file size, processes, open files, no core dumps), gets /dev/null as stdin
and a capped pipe as stdout/stderr, closes every other descriptor, executes the candidate's module in
a fresh module, calls the entry point on each input and writes the outputs, serialized to tagged plain
data, to a result pipe. The zygote enforces the wall-clock timeout, kills the child's process group
and every other process left in the namespace, reaps them (it is a subreaper), and wipes /tmp and
/dev/shm. Each repetition is a new fork of a zygote that never ran candidate code, so nothing carries
over from one run to the next, in memory or in files.

Modules: `sandbox` (the API), `prepare` (a task's inputs and oracle outputs), `timing` (timed and
traced runs), `verdict` (run results to statuses, distrusting forged fields), `codec` (outputs as plain
data), `pool` (the warm workers), `protocol` (pipe framing), `worker` (the zygote) and `harness` (the
child), `callgrind` (instruction counts), `config`, `result`.

What is protected:
- the optimizer's process: candidate code never runs in it, and nothing a candidate produced is
  unpickled in it (outputs are JSON plain data; pickles only carry the task's own inputs);
- the host's files (read-only), the network (an empty network namespace), other processes (own pid
  namespace; the zygote is not dumpable, so it cannot be ptraced or have its fds opened);
- the verdict: outputs are compared in the parent after serialization with exact type checks, so an
  object whose ``__eq__`` always says True cannot pass; ``check(candidate)`` tests run in a child
  without candidate code, fed the candidate's recorded answers (record/replay);
- the timing: CPU time comes from the kernel (``wait4`` rusage of the child and everything it forked),
  so patching ``time`` changes nothing; every timed run must reproduce the digest of its checked outputs.

What is NOT protected:
- if bubblewrap does not work (a warning says so, once), only the resource limits apply: the
  candidate can read and write what the sandbox user can, use the network, and a process that forks
  and calls setsid() can outlive its run (bounded by RLIMIT_NPROC);
- the kernel is shared: no seccomp filter, so a kernel exploit is out of scope (use a VM for that);
- inside its own process a candidate can rewrite the harness and lie about its outputs and its
  memory figures (not its CPU time); it still has to produce the checked outputs, and a fallback ``check`` run in "direct" mode
  (when recording the tests fails) runs ``check`` in the candidate's process, which it could tamper with;
- CPU time includes executing the module (imports at module level), for every candidate alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from afterburner.sandbox.config import SandboxConfig
from afterburner.sandbox.result import CheckResult, Failure, Status

if TYPE_CHECKING:
    from afterburner.sandbox.sandbox import Sandbox

__all__ = ["CheckResult", "Failure", "Sandbox", "SandboxConfig", "Status", "compare", "measure"]


def __getattr__(name: str) -> Any:
    # lazy: afterburner.measurement imports sandbox.result, and sandbox.sandbox imports afterburner.measurement
    if name == "Sandbox":
        from afterburner.sandbox.sandbox import Sandbox

        return Sandbox
    raise AttributeError(f"module 'afterburner.sandbox' has no attribute {name!r}")


def measure(
    task: Any,
    code: str | None = None,
    *,
    config: SandboxConfig | None = None,
    workers: int = 1,
    **kwargs: Any,
) -> Any:
    """Open a `Sandbox` for one `Sandbox.measure` call (see there for the keyword arguments)."""
    from afterburner.sandbox.sandbox import Sandbox

    with Sandbox(config, workers=workers) as sb:
        return sb.measure(task, code, **kwargs)


def compare(
    task: Any,
    code_a: str,
    code_b: str,
    *,
    config: SandboxConfig | None = None,
    workers: int = 2,
    **kwargs: Any,
) -> Any:
    """Open a `Sandbox` for one `Sandbox.compare` call (A = baseline, B = candidate)."""
    from afterburner.sandbox.sandbox import Sandbox

    with Sandbox(config, workers=workers) as sb:
        return sb.compare(task, code_a, code_b, **kwargs)
