"""The measuring sandbox: run code nobody trusts, tell whether it is right, and time it honestly.

How a candidate runs. `Sandbox` keeps one warm worker per core (`worker.py`, pinned to its core),
started under bubblewrap (or docker, `docker_backend`; or the fallback, `fallback`). Under bwrap the
worker sees a fresh root holding only /usr, /lib*, /etc, the Python prefix(es) with their site-packages
and this directory, read-only (plus `SandboxConfig.readonly_paths`), a fresh /dev and /proc, and a private
writable /tmp, a fresh size-capped tmpfs (the work dir is /tmp/work); it has its own pid, network, ipc and uts namespaces, and when
started as root it drops to an unprivileged uid (65534) at once. After warming up, the worker forks a
*template* that never sees a job, and becomes the *manager*. For every run the manager asks the template
for a child and sends the job over a pipe of that child's own. The child starts a new session, takes its
rlimits (CPU seconds, address space, file size, processes, open files, no core dumps) and a seccomp filter
(`seccomp`), writes a "ready" message (its RSS, with the kernel's peak counter reset) before any candidate
code runs, executes the candidate's module and calls the entry point on each input, and writes the
outputs, encoded as tagged plain data, as its result. The template reaps it with ``wait4``; the manager
enforces the wall-clock timeout and the output cap, kills the child, and wipes the writable directories.

What is guaranteed (bwrap and docker; the fallback where said below):
- nothing survives from one run to the next: a child holds the template's memory (the warm-up, nothing
  of any job: no earlier inputs, outputs or digests) and its own job; files of any depth are removed by
  an iterative, fd-relative wipe (`fstree`), and a worker whose wipe left anything is retired; SysV IPC,
  POSIX message queues and keyrings are denied by seccomp, and so are new processes, so no process
  outlives a run;
- every CPU cycle is counted: the child cannot fork, vfork, clone a process or exec (threads are allowed;
  their time is the process's), and its CPU time and peak RSS come from the template's ``wait4``, so
  patching ``time`` or ignoring SIGCHLD changes nothing;
- time, peak memory and the verdict come from the parent's side: "passed" is decided in the parent from
  outputs compared as plain data with exact type checks (an always-equal object cannot pass); every
  timed run must reproduce the checked outputs' digest; the peak memory is at least the kernel's peak RSS
  growth over the RSS before the candidate started, and traced (tracemalloc) figures the kernel
  contradicts are dropped; ``check(candidate)`` tests run in a child without candidate code, fed the
  candidate's recorded answers, and a replay that diverges (calls that depend on a wrong earlier answer)
  is a wrong answer, never a run of check() in the candidate's process;
- the candidate sees no home directory and no other checkout, whatever user runs the tool (bwrap);
- the optimizer's process: candidate code never runs in it, nothing a candidate produced is unpickled
  in it, and every message is read with a depth bound (`protocol.loads`), so no shape of output and no
  depth of directories raises in the parent; sandbox dirs left by a killed run are removed on the next
  start (only those whose owner process is gone).

What is NOT protected:
- the fallback (no usable bubblewrap): as root it gives the worker its own mount, network, ipc and uts
  namespaces, hides every top-level directory but the system's (/usr, /bin, /lib*, /etc, /dev, /proc,
  /sys, /run, /var), and /var/tmp and /dev/shm, behind read-only tmpfs, and binds back the Python prefix
  (so a pyenv under root's 0700 home works), this directory and the task's read-only paths; the system
  directories' world-readable files (/etc, /var) stay readable, /proc and the pid namespace are the host's (a
  candidate can signal other processes of uid 65534). Not as root: resource limits and the seccomp filter
  only; the candidate reads and writes what the user can, uses the network, and can leave files outside
  the work dir for a later run to find;
- the kernel is shared: the seccomp filter is a deny list of what leaves state or starts processes, not
  an allow list; a kernel exploit is out of scope (use a VM); seccomp exists for x86_64 and aarch64 only;
- inside its own process a candidate can lie about its outputs (it still has to produce the checked
  ones), about its profile (hot lines) and, within what the kernel's figures allow, its traced memory
  and memory-time integral;
- tasks whose ``check`` cannot be recorded at all against the oracle (outputs that are not plain data, no
  oracle) still run ``check`` in the candidate's process ("direct" mode, ``details["check_mode"]``):
  such a verdict can be forged;
- CPU time includes executing the module (imports at module level), for every candidate alike.
"""

from __future__ import annotations

from typing import Any

from afterburner.results import CheckResult, Failure, Status
from afterburner.sandbox.config import SandboxConfig
from afterburner.sandbox.sandbox import Sandbox

__all__ = ["CheckResult", "Failure", "Sandbox", "SandboxConfig", "Status", "compare", "measure"]


def measure(
    task: Any,
    code: str | None = None,
    *,
    config: SandboxConfig | None = None,
    workers: int = 1,
    **kwargs: Any,
) -> Any:
    """Open a `Sandbox` for one `Sandbox.measure` call (see there for the keyword arguments)."""
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
    with Sandbox(config, workers=workers) as sb:
        return sb.compare(task, code_a, code_b, **kwargs)
