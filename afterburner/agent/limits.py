"""The sandbox limits of a run: the user's (``--timeout``, ``--memory-limit``), or picked from the original.

A run of the sandbox is one child process that calls the entry point on all the tests' or the workload's
inputs; its limits are a wall-clock timeout (and a CPU-time limit of that plus a second) and an
address-space limit. Without ``--timeout`` the original is first run under a generous limit
(`ORIGINAL_TIMEOUT_S`); once it has passed and been measured, the candidates (and every later run) get
``max(MIN_TIMEOUT_S, TIMEOUT_FACTOR x the original's longest run)``: enough for a correct candidate
that is somewhat slower, or traced for memory, and not minutes for one that loops forever.

When a limit stops the original, the error says which limit, how long the run took before it was
killed, and the option that raises it.
"""

from __future__ import annotations

import re
from typing import Any

from afterburner.errors import TaskError

__all__ = [
    "MIN_TIMEOUT_S",
    "ORIGINAL_TIMEOUT_S",
    "TIMEOUT_FACTOR",
    "candidate_timeout",
    "check_original",
    "limit_failure",
    "original_limit_error",
    "pick_limits",
    "sandbox_limits",
    "with_limits",
]

ORIGINAL_TIMEOUT_S = 300.0  # the original's first runs, without --timeout: generous, the user's own code
MIN_TIMEOUT_S = 10.0
TIMEOUT_FACTOR = 5.0

_TIMEOUT_FLAG = "--timeout SECONDS (optimize(..., timeout=SECONDS))"
_MEMORY_FLAG = "--memory-limit MIB (optimize(..., memory_limit=MIB))"


def sandbox_limits(sandbox: Any) -> tuple[float | None, int | None]:
    """(wall-clock timeout s, memory bytes) of `sandbox`'s runs, where it says (None otherwise)."""
    cfg = getattr(sandbox, "config", None)
    return getattr(cfg, "timeout_s", None), getattr(cfg, "memory_bytes", None)


def with_limits(sandbox: Any, timeout_s: float | None = None, memory_bytes: int | None = None) -> Any:
    """A view of `sandbox` whose runs have these limits, sharing its warm workers and prepared tasks.

    An object with its own ``with_limits`` (`Sandbox`, the project's test gate, the bench's serialized
    sandbox) makes its own view; anything else (a test's stand-in) is returned as it is.
    """
    if timeout_s is None and memory_bytes is None:
        return sandbox
    own = getattr(type(sandbox), "with_limits", None)  # Sandbox, the project gate, the bench's sandbox
    return sandbox.with_limits(timeout_s=timeout_s, memory_bytes=memory_bytes) if callable(own) else sandbox


def candidate_timeout(original_run_s: float) -> float:
    """The wall-clock limit of the candidates' runs, from the original's longest run (seconds)."""
    return max(MIN_TIMEOUT_S, round(TIMEOUT_FACTOR * original_run_s, 1))


def _seconds(x: float) -> str:
    return f"{x:.1f} s" if x < 100 else f"{x:.0f} s"


def original_limit_error(
    status: str, sandbox: Any, ran_s: float | None = None, detail: str = ""
) -> TaskError:
    """The error for an original stopped by a limit: which limit, how long it ran, the option to raise."""
    timeout, memory = sandbox_limits(sandbox)
    if status == "memory_exceeded":
        limit = f"{memory >> 20} MiB" if memory else "the memory limit"
        return TaskError(
            f"the original code ran out of memory: one run (all its test and workload inputs) went past "
            f"the address-space limit of {limit}; raise it with {_MEMORY_FLAG}"
        )
    limit = f"{timeout:g} s" if timeout else "its time limit"
    if "CPU time limit" in detail:
        cpu = detail.split("(", 1)[-1].split(")")[0]
        what = f"used more than its CPU-time limit of {cpu} (the wall-clock limit of {limit} plus 1 s)"
    elif ran_s:
        what = f"was killed after {_seconds(ran_s)}, at its wall-clock limit of {limit}"
    else:
        what = f"was killed at its wall-clock limit of {limit}"
    return TaskError(
        f"the original code ran past the time limit: one run (all its test and workload inputs) {what}; "
        f"give it more time with {_TIMEOUT_FLAG}"
    )


def check_original(sandbox: Any, task: Any) -> Any:
    """`sandbox.check(task, task.code)`, with a limit that stops the original as an error naming it."""
    try:
        check = sandbox.check(task, task.code)
    except TaskError as e:  # the task's own first runs (the oracle's outputs) hit a limit
        m = re.search(r"\((timeout|memory_exceeded)\)", str(e))
        if m:
            raise original_limit_error(m.group(1), sandbox, detail=str(e)) from None
        raise
    status = getattr(check.status, "value", str(check.status))
    if status in ("timeout", "memory_exceeded"):
        error = check.failure.error if check.failure else ""
        raise original_limit_error(status, sandbox, check.wall_time_s or None, error)
    return check


def limit_failure(
    status: str, sandbox: Any, ran_s: float | None = None, original_s: float | None = None
) -> str:
    """One line for a candidate stopped by a limit (the trajectory and the next prompt show it)."""
    timeout, memory = sandbox_limits(sandbox)
    if status == "memory_exceeded":
        return (
            f"ran out of memory (the limit is {memory >> 20} MiB per run)" if memory else "ran out of memory"
        )
    parts = [f"killed after {_seconds(ran_s)}" if ran_s else "killed"]
    if timeout:
        parts.append(f"at the time limit of {timeout:g} s per run")
    if original_s:
        parts.append(f"(the original's run takes {_seconds(original_s)})")
    return " ".join(parts)


def pick_limits(timeout_s: float | None, memory_mib: int | None, check: Any, measurement: Any) -> dict:
    """The limits of the candidates' runs: the user's, or the timeout picked from the original's runs.

    Returns ``{"timeout_s", "memory_bytes", "original_run_s", "source"}`` (``source``: "option" when the
    user set the timeout, "original" when it was picked from the original's longest run).
    """
    wall = getattr(measurement, "wall_time_s", None)
    runs = [getattr(check, "wall_time_s", 0.0) or 0.0, (wall.max if wall is not None and wall.n else 0.0)]
    original_s = max(x for x in runs if x == x)  # NaN-safe
    return {
        "timeout_s": float(timeout_s) if timeout_s else candidate_timeout(original_s),
        "memory_bytes": int(memory_mib) << 20 if memory_mib else None,
        "original_run_s": original_s,
        "source": "option" if timeout_s else "original",
    }
