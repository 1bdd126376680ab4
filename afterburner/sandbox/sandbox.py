"""`Sandbox`: correctness checks, measurements and comparisons of candidate code, on warm workers.

The parent (this module) never runs candidate code and never unpickles anything a candidate made:
inputs travel pickled from the task's own trusted runs (its generator, its tests recorded against the
oracle), outputs come back as tagged plain data (`codec`) and are compared here.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import statistics
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from afterburner.errors import TaskError
from afterburner.measurement import compare_samples
from afterburner.results import CheckResult, Comparison, Failure, Measurement, Status
from afterburner.sandbox import codec, projectmode
from afterburner.sandbox.config import SandboxConfig
from afterburner.sandbox.jobs import JobRunner
from afterburner.sandbox.pool import SandboxBackend, WorkerPool
from afterburner.sandbox.prepare import (
    LIMIT,
    Prepared,
    prepare_task,
)
from afterburner.sandbox.timing import Timed
from afterburner.sandbox.verdict import clean_memory, failed_status, failure_of, short
from afterburner.task import Task

MAX_TASKS = 256  # prepared tasks (inputs, oracle outputs) kept per Sandbox


RunCallback = Callable[[int, int], None]  # on_run(timed runs done, at most): after each timed run


class CallOutputs(NamedTuple):
    """`Sandbox.run_calls`: the run's status, the decoded outputs, the failure, its CPU seconds."""

    status: Status
    outputs: list
    failure: Failure | None
    cpu_s: float


class Sandbox:
    """Warm, isolated workers that check, measure and compare candidates. See `afterburner.sandbox`."""

    reports_runs = True  # measure() and compare() take on_run=callback (the optimizer's progress display)

    def __init__(self, config: SandboxConfig | None = None, workers: int | None = None) -> None:
        self.config = config or SandboxConfig()
        self.pool = WorkerPool(self.config, workers)
        self.runner = JobRunner(self.config, self.pool)
        self._prepared: OrderedDict[str, Prepared] = OrderedDict()  # LRU of the tasks seen
        self._locks: dict[str, threading.Lock] = {}
        self._fps: dict[int, tuple[Task, str]] = {}  # id(task) -> (task, fingerprint)
        self._lock = threading.Lock()

    @property
    def isolation(self) -> str:
        """'bwrap' (namespaces, read-only host, no network) or 'none' (resource limits only)."""
        return self.pool.mode

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.pool.close()

    def with_limits(self, timeout_s: float | None = None, memory_bytes: int | None = None) -> Sandbox:
        """A view whose runs have these limits, sharing this sandbox's warm workers and prepared tasks."""
        changes: dict[str, Any] = {}
        if timeout_s is not None:
            changes["timeout_s"] = float(timeout_s)
        if memory_bytes is not None:
            changes["memory_bytes"] = int(memory_bytes)
        view = copy.copy(self)
        view.config = dataclasses.replace(self.config, **changes)
        view.runner = JobRunner(view.config, self.pool)  # jobs are written with the view's limits
        return view

    # ------------------------------------------------------------ task preparation (trusted code)
    def _fingerprint(self, task: Task) -> str:
        with self._lock:
            hit = self._fps.get(id(task))
            if hit is not None and hit[0] is task:
                return hit[1]
        fp = task.fingerprint() + f":{self.config.seed}"
        with self._lock:
            if len(self._fps) > 4 * MAX_TASKS:
                self._fps.clear()
            self._fps[id(task)] = (task, fp)
        return fp

    def _prepare(self, task: Task) -> Prepared:
        """The task's inputs and oracle outputs, computed once (per task fingerprint and seed)."""
        fp = self._fingerprint(task)
        with self._lock:
            if fp in self._prepared:
                self._prepared.move_to_end(fp)
                return self._prepared[fp]
            lock = self._locks.setdefault(fp, threading.Lock())
        with lock:
            with self._lock:
                prep = self._prepared.get(fp)
            if prep is None:
                prep = prepare_task(self.runner, task)
                with self._lock:
                    self._prepared[fp] = prep
                    while len(self._prepared) > MAX_TASKS:
                        old, _ = self._prepared.popitem(last=False)
                        self._locks.pop(old, None)
            return prep

    # ------------------------------------------------------------ check
    def check(self, task: Task, code: str | None = None) -> CheckResult:
        """Correctness of `code` (default: the task's own) on the tests, and on the workload vs the oracle."""
        code = task.code if code is None else code
        prep = self._prepare(task)
        groups = prep.groups()
        reprs = [r for g in groups for r in g.reprs]
        nw, nc = len(prep.workload), len(prep.cases)
        digest_n = nw if not prep.workload_is_tests else nc + len(prep.recorded)
        res, _ = self.runner.run(self.runner.job("call", task, code, digest_count=digest_n), groups)
        base = {
            "wall_time_s": res.get("wall", 0.0),
            "cpu_time_s": res.get("cpu", 0.0),
            "stdout_tail": res.get("stdout_tail", "")[-500:],
        }
        details: dict[str, Any] = {
            "check_mode": prep.check_mode,
            "isolation": self.isolation,
            "code_key": self._code_key(task, code),  # what `_checked` matches a given result by
        }
        n_total = len(reprs) + (1 if prep.check_mode == "direct" else 0)
        if res["status"] != "ok":
            status = failed_status(res)
            return CheckResult(
                status,
                failure_of(res, reprs),
                n_total,
                max(0, res.get("index", 0) or 0),
                details=details,
                **base,
            )
        outs = res.get("outputs")
        if not isinstance(outs, list) or len(outs) != len(reprs) or not isinstance(res.get("digest"), str):
            fail = Failure(
                error="the run's result is malformed (did the candidate write to the result pipe?)"
            )
            return CheckResult(Status.RUNTIME_ERROR, fail, n_total, 0, details=details, **base)
        details["digest"] = res["digest"]
        wrong = self._first_wrong(task, prep, outs, reprs, n_total, details, base)
        if wrong is not None:
            return wrong
        rec = outs[nw + nc :]  # the recorded tests' calls
        if prep.check_mode == "replay" and rec != prep.oracle_recorded:
            verdict = self._replay(task, prep, rec)
            if verdict is not None:
                status, fail = verdict
                if status is not Status.PASSED:
                    return CheckResult(status, fail, n_total, nw + nc, details=details, **base)
            else:  # never a reason to run check() where the candidate could answer for it
                fail = Failure(
                    error="check() called the candidate with inputs the original code never led it to: "
                    "an earlier answer differs from the original's, and these tests cannot be replayed "
                    "without trusting the candidate's process"
                )
                return CheckResult(Status.WRONG_ANSWER, fail, n_total, nw + nc, details=details, **base)
        elif prep.check_mode == "direct":
            details["record_error"] = prep.record_error
            return self._direct(task, code, n_total, nw + nc, details, base)
        return CheckResult(Status.PASSED, None, n_total, n_total, details=details, **base)

    def _first_wrong(
        self,
        task: Task,
        prep: Prepared,
        outs: list,
        reprs: list[str],
        n_total: int,
        details: dict[str, Any],
        base: dict[str, Any],
    ) -> CheckResult | None:
        """The first output that is wrong: 1) on a test case (expected, or the oracle's), 2) on a
        workload input against the oracle. None when all agree."""
        atol, nw = task.atol, len(prep.workload)
        # a list equals a tuple only in cases written in JSON/YAML (which cannot spell tuples), never
        # in a project's recorded calls
        strict = bool(task.metadata.get("project"))
        for j, (has, exp) in enumerate(prep.expected):
            got = codec.decode(outs[nw + j])
            if has:
                ok = codec.equal(got, exp, atol, strict_sequences=strict)
                exp_enc = codec.encode(exp)
            else:
                exp_enc = prep.oracle_cases[j]
                ok = codec.equal(got, codec.decode(exp_enc), atol)
            if not ok:
                return self._wrong(
                    outs[nw + j],
                    exp_enc,
                    reprs[nw + j],
                    nw + j,
                    n_total,
                    details,
                    base,
                    "wrong answer on a test case",
                    atol,
                )
        for i in range(nw):
            if not codec.equal(codec.decode(outs[i]), codec.decode(prep.oracle_workload[i]), atol):
                return self._wrong(
                    outs[i],
                    prep.oracle_workload[i],
                    reprs[i],
                    i,
                    n_total,
                    details,
                    base,
                    "differs from the original code's output on a workload input",
                    atol,
                )
        return None

    def _wrong(
        self,
        got: Any,
        exp: Any,
        inp: str,
        idx: int,
        n: int,
        details: dict,
        base: dict,
        why: str,
        atol: float = 0.0,
    ) -> CheckResult:
        got_d, exp_d = codec.decode(got), codec.decode(exp)
        # a project's recorded call: show the part of its outcome that differs
        diff = projectmode.difference(exp_d, got_d, lambda a, b: codec.equal(a, b, atol))
        if diff is not None:
            why, exp_d, got_d = diff
        fail = Failure(
            input=inp,
            expected=codec.short_repr(exp_d, LIMIT),
            got=codec.short_repr(got_d, LIMIT),
            error=why,
        )
        return CheckResult(Status.WRONG_ANSWER, fail, n, idx, details=details, **base)

    def _replay(self, task: Task, prep: Prepared, rec: list) -> tuple[Status, Failure | None] | None:
        """check() run without the candidate, fed its recorded answers. None: the calls diverged."""
        job = self.runner.job(
            "replay",
            task,
            None,
            replay_outputs=rec,
            args_digests=prep.args_digests,
            check_parts=[["<prelude>", task.prelude], ["<tests>", task.check_source]],
        )
        res, _ = self.runner.run(job, [])
        st = res["status"]
        if st == "ok":
            return Status.PASSED, None
        if st == "diverged":
            return None
        k = max(0, min(res.get("calls", 1) - 1, len(rec) - 1))
        if st in ("wrong_answer", "runtime_error") and rec:
            fail = Failure(
                input=prep.recorded.reprs[k] if k < len(prep.recorded) else "",
                expected=codec.short_repr(codec.decode(prep.oracle_recorded[k]), LIMIT),
                got=codec.short_repr(codec.decode(rec[k]), LIMIT),
                error=short(res.get("error", ""), 800),
            )
            return Status.WRONG_ANSWER, fail
        return failed_status(res), failure_of(res)

    def _direct(self, task: Task, code: str, n: int, done: int, details: dict, base: dict) -> CheckResult:
        job = self.runner.job(
            "direct", task, code, check_parts=[["<prelude>", task.prelude], ["<tests>", task.check_source]]
        )
        res, _ = self.runner.run(job, [])
        st = res["status"]
        if st == "ok":
            return CheckResult(Status.PASSED, None, n, n, details=details, **base)
        return CheckResult(failed_status(res), failure_of(res), n, done, details=details, **base)

    def check_many(self, task: Task, codes: list[str]) -> list[CheckResult]:
        """`check` for many candidates, in parallel over the warm workers."""
        self._prepare(task)
        with ThreadPoolExecutor(max_workers=self.pool.size) as ex:
            return list(ex.map(lambda c: self.check(task, c), codes))

    def _code_key(self, task: Task, code: str) -> str:
        """Names `code` on this task, its inputs and seed: a check result carries it in its details."""
        return hashlib.sha256(f"{self._fingerprint(task)}\0{code}".encode()).hexdigest()[:32]

    def _reusable(self, task: Task, code: str, checked: CheckResult | None) -> bool:
        """`checked` is a passed check of this very code on this task (so its digest holds)."""
        return (
            checked is not None
            and checked.passed
            and isinstance(checked.details.get("digest"), str)
            and checked.details.get("code_key") == self._code_key(task, code)
        )

    def _checked(self, task: Task, codes: list[str], given: list[CheckResult | None]) -> list[CheckResult]:
        """The check of each code: the given result where it is a passed one of that code, else a new
        check (the missing ones in parallel)."""
        missing = [
            i for i, (c, g) in enumerate(zip(codes, given, strict=True)) if not self._reusable(task, c, g)
        ]
        if len(missing) > 1:
            fresh = dict(zip(missing, self.check_many(task, [codes[i] for i in missing]), strict=True))
        else:
            fresh = {i: self.check(task, codes[i]) for i in missing}
        return [fresh[i] if i in fresh else g for i, g in enumerate(given)]

    def run_calls(self, task: Task, code: str | None = None) -> CallOutputs:
        """The outputs of `code` (default: the task's own) on the task's test cases, decoded, in order,
        and the run's CPU time: for questions about the task itself (is the original deterministic on
        its inputs? how many repeats make its workload long enough to time?)."""
        code = task.code if code is None else code
        prep = self._prepare(task)
        res, _ = self.runner.run(self.runner.job("call", task, code), [prep.cases])
        cpu = float(res.get("cpu", 0.0) or 0.0)
        if res["status"] != "ok":
            return CallOutputs(failed_status(res), [], failure_of(res, prep.cases.reprs), cpu)
        outs = res.get("outputs")
        if not isinstance(outs, list) or len(outs) != len(prep.cases):
            return CallOutputs(Status.RUNTIME_ERROR, [], Failure(error="the run's result is malformed"), cpu)
        return CallOutputs(Status.PASSED, [codec.decode(o) for o in outs], None, cpu)

    def run_pytest(self, task: Task, code: str, args: list[str], timeout_s: float) -> CheckResult:
        """A project task's own pytest tests (`args`: node ids and options) with `code` as the project's
        module, in one sandboxed run. The tests run in the candidate's process (as "direct" checks do):
        the recorded calls, compared here, are the oracle a candidate cannot reach; these tests add what
        the calls do not show."""
        if not task.metadata.get("project"):
            raise TaskError(f"task {task.name!r} is not a project task: it has no tests of its own to run")
        job = self.runner.job(
            "pytest",
            task,
            code,
            pytest_args=list(args),
            wall_s=float(timeout_s),
            limits={**self.config.limits(), "cpu_s": int(timeout_s + 0.999) + 1},
            output_cap=16 << 20,
        )
        res, _ = self.runner.run(job, [])
        base = {
            "wall_time_s": res.get("wall", 0.0),
            "cpu_time_s": res.get("cpu", 0.0),
            "stdout_tail": str(res.get("stdout_tail", ""))[-2000:],
        }
        failed = res.get("failed") if isinstance(res.get("failed"), list) else []
        details = {"failed": [[str(x)[:300] for x in f][:3] for f in failed[:20] if isinstance(f, list)]}
        details["passed"] = res.get("passed") if type(res.get("passed")) is int else 0
        if res["status"] == "ok":
            return CheckResult(Status.PASSED, None, 1, 1, details=details, **base)
        if res["status"] == "wrong_answer":
            first = details["failed"][0] if details["failed"] else ["", "", ""]
            error = (
                f"the project's test {first[0]} fails with this code ({first[1]}): {first[2]}"
                if first[0]
                else f"the project's tests did not pass (pytest exit code {res.get('exit')!s:.10})"
            )
            return CheckResult(Status.WRONG_ANSWER, Failure(error=error), 1, 0, details=details, **base)
        return CheckResult(failed_status(res), failure_of(res), 1, 0, details=details, **base)

    # ------------------------------------------------------------ measure / compare
    def measure(
        self,
        task: Task,
        code: str | None = None,
        repeats: int | None = None,
        profile: bool = False,
        instructions: bool = False,
        on_run: RunCallback | None = None,
        checked: CheckResult | None = None,
    ) -> Measurement:
        """CPU time over the workload (repeated), peak memory, memory-time integral, profile.

        CPU time is the user+sys time of the child process (and anything it forked) from the kernel's
        ``wait4`` rusage: it includes executing the module and serializing the outputs, the same work for
        every candidate. The memory/profile numbers come from one separate run (tracing slows code down).
        `on_run(n, at_most)` is called after each timed run (`at_most`: `repeats`, or the adaptive maximum).
        `checked`: the code's passed `check` result, if the caller has one (it is not checked again).
        """
        code = task.code if code is None else code
        [chk] = self._checked(task, [code], [checked])
        if not chk.passed:
            return Measurement(chk.status, failure=chk.failure, details={"check": chk.to_dict()})
        prep = self._prepare(task)
        timed = Timed(self.runner, task, prep, code, chk.details["digest"])
        with self.pool.acquire() as w:
            timed.run(w)  # warm-up (discarded)
            n = 0
            while timed.status is Status.PASSED and self._more(n, repeats, timed.total):
                timed.run(w)
                n += 1
                if on_run is not None:
                    on_run(n, self._at_most(repeats))
            if timed.status is not Status.PASSED:
                return timed.failed()
            mem = self._memory(task, prep, code, w, profile)
        m = timed.measurement(mem, chk, code, profile=profile)
        if instructions:
            from dataclasses import replace

            m = replace(m, instructions=self._instructions(task, code))
        return m

    def _at_most(self, repeats: int | None) -> int:
        return repeats if repeats is not None else self.config.max_repeats

    def _more(self, n: int, repeats: int | None, total: float) -> bool:
        if repeats is not None:
            return n < repeats
        cfg = self.config
        return n < cfg.min_repeats or (n < cfg.max_repeats and total < cfg.time_budget_s)

    def _memory(
        self, task: Task, prep: Prepared, code: str, w: SandboxBackend, profile: bool = False
    ) -> dict:
        """Traced-memory/profile runs (fresh forks), repeated until enough samples, merged.

        The profiling timer fires on the kernel's tick (4 ms of CPU at HZ=250), so a short run gets few
        samples: runs repeat until 20 samples (100 with `profile`), 1 s of CPU or 40 runs (200). Samples are
        equally spaced in CPU time, so the trapezoid rule reduces to mean x duration; pooling the samples
        of all runs, the integral is (mean sampled traced memory) x (median untraced CPU time of a run).
        Peak: the largest of the runs; profile counts: summed.
        """
        job = self.runner.timing_job(task, prep, code, memory=True, interval=self.config.profile_interval_s)
        want = 100 if profile else 20
        runs: list[dict] = []
        while not runs or (
            sum(r["samples"] for r in runs) < want
            and sum(r["memory_cpu"] for r in runs) < 1.0
            and len(runs) < (200 if profile else 40)
        ):
            res, _ = self.runner.run(job, self.runner.timing_groups(prep), w)
            clean = clean_memory(res) if res["status"] == "ok" else None
            if clean is None:
                break
            clean["kernel_peak"] = max(0, int(res.get("maxrss", 0)) - int(res.get("rss_ready", 0)))
            runs.append(clean)
        if not runs:
            return {}
        recorded = sum(r["recorded"] for r in runs)
        lines: dict[tuple, int] = {}
        funcs: dict[str, int] = {}
        calls: dict[tuple, int] = {}
        for r in runs:
            for fn, ln, c in r["prof_lines"]:
                lines[(fn, ln)] = lines.get((fn, ln), 0) + c
            for fn, c in r["prof_funcs"]:
                funcs[fn] = funcs.get(fn, 0) + c
            for *key, c in r.get("prof_calls", []):
                calls[tuple(key)] = calls.get(tuple(key), 0) + c
        return {
            "peak_traced": max(r["peak_traced"] for r in runs),
            "kernel_peak": max(r["kernel_peak"] for r in runs),
            "mem_mean": sum(r["mem_sum"] for r in runs) / recorded if recorded else None,
            "integral_raw": statistics.median(r["integral_raw"] for r in runs),
            "memory_cpu": statistics.median(r["memory_cpu"] for r in runs),
            "samples": sum(r["samples"] for r in runs),
            "runs": len(runs),
            "prof_lines": [[fn, ln, c] for (fn, ln), c in lines.items()],
            "prof_funcs": [[fn, c] for fn, c in funcs.items()],
            "prof_calls": [[*key, c] for key, c in calls.items()],
        }

    def _instructions(self, task: Task, code: str) -> int | None:
        from afterburner.sandbox.callgrind import count_instructions

        return count_instructions(self.runner, task, code, self.runner.timing_groups(self._prepare(task)))

    def compare(
        self,
        task: Task,
        code_a: str,
        code_b: str,
        repeats: int | None = None,
        min_gain: float = 0.05,
        on_run: RunCallback | None = None,
        checked_a: CheckResult | None = None,
        checked_b: CheckResult | None = None,
    ) -> Comparison:
        """A (baseline) against B, timed interleaved A B A B ... on one worker; speedup = median A / median B.

        `on_run(n, at_most)` is called after each timed pair A B. `checked_a`, `checked_b`: passed `check`
        results of A and B the caller has (a side with one is not checked again)."""
        ca, cb = self._checked(task, [code_a, code_b], [checked_a, checked_b])
        prep = self._prepare(task)
        if not (ca.passed and cb.passed):
            ma = Measurement(ca.status, failure=ca.failure, details={"check": ca.to_dict()})
            mb = Measurement(cb.status, failure=cb.failure, details={"check": cb.to_dict()})
            return compare_samples(ma, mb, min_gain)
        ta = Timed(self.runner, task, prep, code_a, ca.details["digest"])
        tb = Timed(self.runner, task, prep, code_b, cb.details["digest"])
        with self.pool.acquire() as w:
            ta.run(w)
            tb.run(w)
            n = 0
            while (
                ta.status is Status.PASSED
                and tb.status is Status.PASSED
                and self._more(n, repeats, min(ta.total, tb.total))
            ):
                ta.run(w)
                tb.run(w)
                n += 1
                if on_run is not None:
                    on_run(n, self._at_most(repeats))
            mem_a = self._memory(task, prep, code_a, w) if ta.status is Status.PASSED else {}
            mem_b = self._memory(task, prep, code_b, w) if tb.status is Status.PASSED else {}
        ma = ta.measurement(mem_a, ca, code_a) if ta.status is Status.PASSED else ta.failed()
        mb = tb.measurement(mem_b, cb, code_b) if tb.status is Status.PASSED else tb.failed()
        return compare_samples(ma, mb, min_gain)
