"""``afterburner optimize path/to/module.py::name`` inside a project, with no tests or workload given.

`prepare_project_task` finds the project root, runs the project's pytest suite once with the call
recorder on the target (`discover.record_pytest`), stops with one line when there is nothing to go on
(no test calls it, its tests fail already, no call could be recorded), builds the task from the
recorded calls, replays the original twice in the sandbox (nondeterminism), and runs the discovered
tests once in the sandbox with the original (the ones that cannot run there are named and left out).
It returns the task and a `TestGate`: the sandbox that checks each candidate on the recorded calls and
then on those tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from afterburner.discover import (
    Found,
    build_task,
    calibrate,
    failing_tests,
    find_root,
    record_pytest,
    target_spec,
    verify_task,
)
from afterburner.errors import TaskError
from afterburner.task import Task
from afterburner.testgate import TestGate

__all__ = ["ProjectTask", "how_to_give_tests", "prepare_project_task"]


def how_to_give_tests(qualname: str) -> str:
    return (
        "give --tests FILE (a check(candidate)) and --workload FILE, or record a run that calls it with "
        f"`afterburner trace -- python script.py` and optimize --trace FILE (the function: {qualname})"
    )


@dataclass
class ProjectTask:
    """A project function ready to optimize: its task, the gate sandbox, and what was found."""

    task: Task
    sandbox: TestGate
    root: Path
    found: Found
    tests: list[str]  # the tests that call the target (all of them)
    gate_tests: list[str]  # those that run in the sandbox: every candidate must pass them
    suite_size: int
    summary: list[str] = field(default_factory=list)


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.0f}%"


def prepare_project_task(
    target: str,
    open_sandbox: Callable[[tuple[str, ...]], Any],
    pytest_args: list[str] | None = None,
    timing_calls: int = 5,
    say: Callable[[str], None] = print,
    timeout: float | None = None,
) -> ProjectTask:
    """Discover, record and verify `target` (``path.py::name``); `open_sandbox(readonly_paths)` makes
    the sandbox (closed by the caller through the returned gate's ``close``, or here on an error)."""
    if "::" not in target:
        raise TaskError(f"target {target!r} must look like path/to/file.py::function_name")
    path_s, entry = target.rsplit("::", 1)
    path = Path(path_s)
    if not path.is_file():
        raise TaskError(f"source file {path_s!r} does not exist (or is not a file)")
    code = path.read_text(encoding="utf-8")
    spec = target_spec(code, path, entry)
    q = spec["qualname"]
    root = find_root(path)
    say(f"project {root}: running its pytest suite once, recording every call of {q}")
    rec = record_pytest(spec, root, pytest_args, timeout)
    suite = len(rec.outcomes)
    failing = failing_tests(rec)
    if failing:
        node, err = failing[0]
        raise TaskError(
            f"{len(failing)} of the {len(rec.tests)} tests that call {q} fail before any change ({node}: "
            f"{err or 'failed'}); fix them first: afterburner keeps only code that passes them"
        )
    if rec.seen == 0:
        errors = f", {len(rec.collect_errors)} could not be collected" if rec.collect_errors else ""
        raise TaskError(f"no test calls {q} ({suite} tests ran in {root}{errors}); {how_to_give_tests(q)}")
    for s in rec.skipped:
        where = f" in {s['tests'][0]}" if s.get("tests") else ""
        say(f"skipped {s['count']} call(s) of {q}: {s['reason']} (e.g. {s['call'][:100]}{where})")
    if not rec.calls:
        s = max(rec.skipped, key=lambda s: s["count"]) if rec.skipped else {"reason": "none could be kept"}
        raise TaskError(
            f"none of the {rec.seen} calls of {q} in its tests could be recorded ({s['reason']}); "
            f"{how_to_give_tests(q)}"
        )
    if rec.not_kept:
        say(
            f"{rec.not_kept} further call(s) of {q} were seen and counted, not recorded (a cap per test and in all)"
        )
    task, found = build_task(code, path, entry, rec, root, timing_calls)
    if found.inconsistent:
        say(
            f"{found.inconsistent} input(s) were recorded with different outcomes in different calls "
            "(state the tests set up?): left out of the oracle"
        )
    readonly = tuple(dict.fromkeys([str(root), *task.metadata["project"]["paths"]]))
    sandbox = open_sandbox(readonly)
    try:
        task = calibrate(sandbox, verify_task(sandbox, task, found), found)
        for line in [*found.dropped, *found.notes]:
            say(line)
        durations = sum(float(rec.outcomes.get(t, {}).get("duration", 0.0)) for t in rec.tests)
        tests_timeout = max(60.0, 10 * durations + 30.0)
        gate_tests = _runnable_tests(sandbox, task, rec.tests, tests_timeout, say)
        gate = TestGate(sandbox, gate_tests, tests_timeout)
    except BaseException:
        sandbox.close()
        raise
    timing = found.timing
    summary = [
        f"found: {len(rec.tests)} of the suite's {suite} tests call {q}; {len(rec.calls)} call(s) recorded "
        f"({len(found.calls)} distinct) are the oracle, compared as data outside the candidate",
        f"timing: the {len(timing)} costliest recorded call(s), each run {found.repeats}x per timed run; "
        f"they cover {_pct(found.coverage_timing)} of {q}'s lines (all recorded calls: {_pct(found.coverage_all)})",
        f"every candidate that passes the calls must also pass {len(gate_tests)} discovered test(s) in the sandbox",
    ]
    for line in summary:
        say(line)
    return ProjectTask(task, gate, root, found, rec.tests, gate_tests, suite, summary)


def _runnable_tests(sandbox: Any, task: Task, tests: list[str], timeout: float, say: Callable) -> list[str]:
    """The tests that pass in the sandbox with the original code (others are named and left out)."""
    from afterburner.testgate import pytest_args

    left = list(tests)
    for _ in range(2):
        res = sandbox.run_pytest(task, task.code, [a for a in pytest_args(left) if a != "-x"], timeout)
        if res.passed:
            return left
        failed = {f[0] for f in res.details.get("failed", []) if f}
        if not failed or not failed & set(left):
            break
        first = next(f for f in res.details["failed"] if f and f[0] in failed)
        say(
            f"{len(failed & set(left))} discovered test(s) fail inside the sandbox even with the original code "
            f"(e.g. {first[0]}: {first[2][:120]}): they are not used to judge candidates"
        )
        left = [t for t in left if t not in failed]
        if not left:
            return []
    why = res.failure.short() if res.failure else res.status.value
    say(
        f"the discovered tests do not run in the sandbox ({why}): candidates are judged on the recorded calls alone"
    )
    return []
