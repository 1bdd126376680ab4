"""What a task needs before any candidate runs: its inputs (pickled, from trusted runs only) and the
oracle's outputs. Computed once per task by `Sandbox` and cached.

- the workload: explicit inputs, or the task's generate(n, seed) run in the sandbox once per size;
- the test cases, with their expected values or the oracle's outputs;
- check(candidate) tests: recorded once against the oracle (the calls' inputs and the oracle's answers),
  so a candidate's answers can be replayed into check later without the candidate ("replay" mode);
  when that is impossible (check fails on the oracle, answers that are not plain data, no oracle),
  the tests run with the candidate directly ("direct" mode).
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from afterburner.errors import TaskError
from afterburner.sandbox import codec
from afterburner.sandbox.verdict import has_unsupported, one_line, short
from afterburner.task import Task, parse_entry_point

if TYPE_CHECKING:
    from afterburner.sandbox.jobs import JobRunner

LIMIT = 300


def blob_key(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()[:32]


@dataclass
class Group:
    """A list of inputs that travels as one pickled blob, with reprs for failure reports."""

    blob: bytes
    reprs: list[str]

    @property
    def key(self) -> str:
        return blob_key(self.blob)

    def __len__(self) -> int:
        return len(self.reprs)


@dataclass
class Prepared:
    """What a task needs before any candidate runs: its inputs and the oracle's outputs (cached)."""

    workload: Group
    cases: Group
    recorded: Group
    expected: list[tuple[bool, Any]]  # per case: (from the task file?, value or encoded oracle output)
    oracle_workload: list | None  # encoded
    oracle_cases: list | None
    oracle_recorded: list | None
    args_digests: list[str] = field(default_factory=list)
    check_mode: str | None = None  # "replay", "direct" or None (no check source)
    record_error: str = ""
    workload_is_tests: bool = False

    def groups(self) -> list[Group]:
        return [self.workload, self.cases, self.recorded]


def code_parts(task: Task, code: str) -> list[list[str]]:
    return [["<prelude>", task.prelude], ["<candidate>", code]]


def entry_of(task: Task) -> list:
    name, instantiate, method = parse_entry_point(task.entry_point)
    return [name, instantiate, method]


def check_parts(task: Task) -> list[list[str]]:
    return [["<prelude>", task.prelude], ["<tests>", task.check_source or ""]]


def times_direct(prep: Prepared) -> bool:
    return (
        prep.workload_is_tests
        and not len(prep.cases)
        and not len(prep.recorded)
        and prep.check_mode == "direct"
    )


def prepare_task(runner: JobRunner, task: Task) -> Prepared:
    oracle = task.code or task.reference or ""
    workload = build_workload(runner, task)
    plain = [c for c in task.cases]
    cases = Group(
        pickle.dumps([(tuple(c.args), dict(c.kwargs)) for c in plain]),
        [codec.short_repr((c.args, c.kwargs), LIMIT) for c in plain],
    )
    expected: list[tuple[bool, Any]] = [(c.has_expected, c.expected) for c in plain]
    recorded = Group(pickle.dumps([]), [])
    prep = Prepared(workload, cases, recorded, expected, None, None, None)
    if task.check_source is not None:
        if oracle:
            job = runner.job(
                "record",
                task,
                oracle,
                check_parts=[["<prelude>", task.prelude], ["<tests>", task.check_source]],
            )
            res, blobs = runner.run(job, [])
            if res["status"] == "ok" and blobs:
                outs = res["outputs"]
                if any(has_unsupported(o) for o in outs):
                    prep.check_mode, prep.record_error = (
                        "direct",
                        "the oracle's outputs are not plain data",
                    )
                else:
                    prep.recorded = Group(blobs[0], res["reprs"])
                    prep.oracle_recorded = outs
                    prep.args_digests = res["args_digests"]
                    prep.check_mode = "replay"
            else:
                prep.check_mode, prep.record_error = (
                    "direct",
                    short(res.get("error", res["status"]), 500),
                )
        else:
            prep.check_mode, prep.record_error = "direct", "no oracle code to record the tests with"
    need_oracle = len(workload) or any(not has for has, _ in expected)
    if need_oracle:
        if not oracle:
            raise TaskError(
                f"task {task.name!r}: test cases without 'expected' (or a workload) need the "
                "original code or a reference solution as the oracle"
            )
        job = runner.job("call", task, oracle, digest_count=len(workload))
        res, _ = runner.run(job, [workload, cases])
        if res["status"] != "ok":
            raise TaskError(
                f"task {task.name!r}: the original code fails on its own inputs "
                f"({res['status']}): {one_line(res.get('error', ''))}"
            )
        outs = res["outputs"]
        prep.oracle_workload = outs[: len(workload)]
        prep.oracle_cases = outs[len(workload) :]
    if not len(workload):  # no workload: time the tests' inputs
        prep.workload_is_tests = True
    return prep


def build_workload(runner: JobRunner, task: Task) -> Group:
    if task.workload_inputs:
        ins = [(tuple(c.args), dict(c.kwargs)) for c in task.workload_inputs]
        return Group(pickle.dumps(ins), [codec.short_repr(i, LIMIT) for i in ins])
    if task.workload_source and task.sizes:
        calls = [[int(n), runner.config.seed] for n in task.sizes]
        job = runner.job(
            "generate",
            task,
            None,
            calls=calls,
            parts=[["<prelude>", task.prelude], ["<workload>", task.workload_source]],
        )
        res, blobs = runner.run(job, [])
        if res["status"] != "ok" or not blobs:
            raise TaskError(
                f"task {task.name!r}: the workload's generate(n, seed) failed "
                f"({res['status']}): {one_line(res.get('error', ''))}"
            )
        return Group(blobs[0], res["reprs"])
    return Group(pickle.dumps([]), [])
