"""`Sandbox`: correctness checks, measurements and comparisons of candidate code, on warm workers.

The parent (this module) never runs candidate code and never unpickles anything a candidate made:
inputs travel pickled from the task's own trusted runs (its generator, its tests recorded against the
oracle), outputs come back as tagged plain data (`codec`) and are compared here.
"""

from __future__ import annotations

import hashlib
import pickle
import statistics
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from afterburner.errors import TaskError
from afterburner.measure import Comparison, Measurement, Profile, compare_samples, summarize
from afterburner.sandbox import codec
from afterburner.sandbox.config import SandboxConfig
from afterburner.sandbox.pool import Worker, WorkerDied, WorkerPool
from afterburner.sandbox.result import CheckResult, Failure, Status
from afterburner.task import Task, parse_entry_point

# what a run may report besides "ok": never "passed" (only the parent decides that; a candidate
# that forges its result message cannot pass), never "format_error" (the LLM layer's)
_FAILURES = {
    s.value: s
    for s in (
        Status.WRONG_ANSWER,
        Status.RUNTIME_ERROR,
        Status.TIMEOUT,
        Status.MEMORY_EXCEEDED,
        Status.OUTPUT_EXCEEDED,
        Status.SYNTAX_ERROR,
        Status.MISSING_ENTRY_POINT,
        Status.SANDBOX_ERROR,
    )
}


def _failed(res: dict) -> Status:
    """The status of a run that did not report "ok" (anything unexpected is a runtime error)."""
    st = _FAILURES.get(res.get("status"))
    if st is None:
        res["error"] = f"the run reported an unknown status {str(res.get('status'))[:40]!r}"
        return Status.RUNTIME_ERROR
    return st


MAX_TASKS = 256  # prepared tasks (inputs, oracle outputs) kept per Sandbox
_LIMIT = 300


def _key(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()[:32]


def _short(text: str, limit: int = 1500) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def _one_line(error: str) -> str:
    """'ZeroDivisionError: division by zero (<workload>, line 2)' from a traceback."""
    lines = [ln.strip() for ln in error.strip().splitlines() if ln.strip()]
    if not lines:
        return "no error message"
    where = next((ln for ln in reversed(lines) if ln.startswith('File "')), "")
    if where:
        parts = where.split(",")
        where = f" ({parts[0][5:].strip(chr(34))}, {parts[1].strip()})" if len(parts) > 1 else ""
    return lines[-1][:300] + where


@dataclass
class _Group:
    """A list of inputs that travels as one pickled blob, with reprs for failure reports."""

    blob: bytes
    reprs: list[str]

    @property
    def key(self) -> str:
        return _key(self.blob)

    def __len__(self) -> int:
        return len(self.reprs)


@dataclass
class _Prepared:
    """What a task needs before any candidate runs: its inputs and the oracle's outputs (cached)."""

    workload: _Group
    cases: _Group
    recorded: _Group
    expected: list[tuple[bool, Any]]  # per case: (from the task file?, value or encoded oracle output)
    oracle_workload: list | None  # encoded
    oracle_cases: list | None
    oracle_recorded: list | None
    args_digests: list[str] = field(default_factory=list)
    check_mode: str | None = None  # "replay", "direct" or None (no check source)
    record_error: str = ""
    workload_is_tests: bool = False

    def groups(self) -> list[_Group]:
        return [self.workload, self.cases, self.recorded]


def _parts(task: Task, code: str) -> list[list[str]]:
    return [["<prelude>", task.prelude], ["<candidate>", code]]


def _entry(task: Task) -> list:
    name, instantiate, method = parse_entry_point(task.entry_point)
    return [name, instantiate, method]


def _failure(header: dict, reprs: list[str] | None = None, **kw: str) -> Failure:
    idx = header.get("index")
    inp = reprs[idx] if reprs and isinstance(idx, int) and 0 <= idx < len(reprs) else header.get("input", "")
    kw.setdefault("got", header.get("got", ""))
    err = header.get("error", "")
    tail = header.get("stdout_tail", "")
    if tail and header.get("status") == "output_exceeded":
        err = (
            err + "\n" if err else ""
        ) + f"output ({header.get('stdout_bytes')} bytes), ends with: {tail[-200:]}"
    return Failure(
        input=kw.get("input", inp),
        expected=kw.get("expected", ""),
        got=kw.get("got", ""),
        error=_short(kw.get("error", err)),
    )


class Sandbox:
    """Warm, isolated workers that check, measure and compare candidates. See `afterburner.sandbox`."""

    def __init__(self, config: SandboxConfig | None = None, workers: int | None = None) -> None:
        self.config = config or SandboxConfig()
        self.pool = WorkerPool(self.config, workers)
        self._prepared: OrderedDict[str, _Prepared] = OrderedDict()  # LRU of the tasks seen
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

    # ------------------------------------------------------------ running jobs
    def _job(self, kind: str, task: Task, code: str | None, **extra: Any) -> dict:
        job = {
            "kind": kind,
            "entry": _entry(task),
            "wall_s": self.config.timeout_s,
            "limits": self.config.limits(),
            "output_cap": self.config.output_cap_bytes,
        }
        if code is not None:
            job["parts"] = _parts(task, code)
        job.update(extra)
        return job

    def _run(self, job: dict, groups: list[_Group], worker: Worker | None = None) -> tuple[dict, list[bytes]]:
        blobs = [(g.key, g.blob) for g in groups]
        try:
            if worker is not None:
                return _sane(*worker.run(job, blobs))
            with self.pool.acquire() as w:
                return _sane(*w.run(job, blobs))
        except WorkerDied as e:
            return {
                "status": "sandbox_error",
                "error": f"the candidate killed the sandbox worker or it stopped answering ({e}); "
                "the worker was replaced",
            }, []

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

    def _prepare(self, task: Task) -> _Prepared:
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
                prep = self._do_prepare(task)
                with self._lock:
                    self._prepared[fp] = prep
                    while len(self._prepared) > MAX_TASKS:
                        old, _ = self._prepared.popitem(last=False)
                        self._locks.pop(old, None)
            return prep

    def _do_prepare(self, task: Task) -> _Prepared:
        oracle = task.code or task.reference or ""
        workload = self._workload(task)
        plain = [c for c in task.cases]
        cases = _Group(
            pickle.dumps([(tuple(c.args), dict(c.kwargs)) for c in plain]),
            [codec.short_repr((c.args, c.kwargs), _LIMIT) for c in plain],
        )
        expected: list[tuple[bool, Any]] = [(c.has_expected, c.expected) for c in plain]
        recorded = _Group(pickle.dumps([]), [])
        prep = _Prepared(workload, cases, recorded, expected, None, None, None)
        if task.check_source is not None:
            if oracle:
                job = self._job(
                    "record",
                    task,
                    oracle,
                    check_parts=[["<prelude>", task.prelude], ["<tests>", task.check_source]],
                )
                res, blobs = self._run(job, [])
                if res["status"] == "ok" and blobs:
                    outs = res["outputs"]
                    if any(_has_unsupported(o) for o in outs):
                        prep.check_mode, prep.record_error = (
                            "direct",
                            "the oracle's outputs are not plain data",
                        )
                    else:
                        prep.recorded = _Group(blobs[0], res["reprs"])
                        prep.oracle_recorded = outs
                        prep.args_digests = res["args_digests"]
                        prep.check_mode = "replay"
                else:
                    prep.check_mode, prep.record_error = (
                        "direct",
                        _short(res.get("error", res["status"]), 500),
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
            job = self._job("call", task, oracle, digest_count=len(workload))
            res, _ = self._run(job, [workload, cases])
            if res["status"] != "ok":
                raise TaskError(
                    f"task {task.name!r}: the original code fails on its own inputs "
                    f"({res['status']}): {_one_line(res.get('error', ''))}"
                )
            outs = res["outputs"]
            prep.oracle_workload = outs[: len(workload)]
            prep.oracle_cases = outs[len(workload) :]
        if not len(workload):  # no workload: time the tests' inputs
            prep.workload_is_tests = True
        return prep

    def _workload(self, task: Task) -> _Group:
        if task.workload_inputs:
            ins = [(tuple(c.args), dict(c.kwargs)) for c in task.workload_inputs]
            return _Group(pickle.dumps(ins), [codec.short_repr(i, _LIMIT) for i in ins])
        if task.workload_source and task.sizes:
            calls = [[int(n), self.config.seed] for n in task.sizes]
            job = self._job(
                "generate",
                task,
                None,
                calls=calls,
                parts=[["<prelude>", task.prelude], ["<workload>", task.workload_source]],
            )
            res, blobs = self._run(job, [])
            if res["status"] != "ok" or not blobs:
                raise TaskError(
                    f"task {task.name!r}: the workload's generate(n, seed) failed "
                    f"({res['status']}): {_one_line(res.get('error', ''))}"
                )
            return _Group(blobs[0], res["reprs"])
        return _Group(pickle.dumps([]), [])

    def _timing_groups(self, prep: _Prepared) -> list[_Group]:
        return [prep.cases, prep.recorded] if prep.workload_is_tests else [prep.workload]

    def _timing_job(self, task: Task, prep: _Prepared, code: str, **extra: Any) -> dict:
        """The job of a timed (or traced) run: the entry point over the workload's inputs; for a task
        whose only tests are a check(candidate) that could not be recorded, that check run directly."""
        if _times_direct(prep):
            return self._job("direct", task, code, check_parts=_check_parts(task), **extra)
        return self._job("call", task, code, outputs=False, **extra)

    # ------------------------------------------------------------ check
    def check(self, task: Task, code: str | None = None) -> CheckResult:
        """Correctness of `code` (default: the task's own) on the tests, and on the workload vs the oracle."""
        code = task.code if code is None else code
        prep = self._prepare(task)
        groups = prep.groups()
        reprs = [r for g in groups for r in g.reprs]
        nw, nc = len(prep.workload), len(prep.cases)
        digest_n = nw if not prep.workload_is_tests else nc + len(prep.recorded)
        res, _ = self._run(self._job("call", task, code, digest_count=digest_n), groups)
        base = {
            "wall_time_s": res.get("wall", 0.0),
            "cpu_time_s": res.get("cpu", 0.0),
            "stdout_tail": res.get("stdout_tail", "")[-500:],
        }
        details: dict[str, Any] = {"check_mode": prep.check_mode, "isolation": self.isolation}
        n_total = len(reprs) + (1 if prep.check_mode == "direct" else 0)
        if res["status"] != "ok":
            status = _failed(res)
            return CheckResult(
                status,
                _failure(res, reprs),
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
        atol = task.atol
        # 1) cases (expected or oracle), 2) workload vs the oracle, 3) the recorded tests
        for j, (has, exp) in enumerate(prep.expected):
            got = codec.decode(outs[nw + j])
            if has:
                ok = codec.equal(got, exp, atol, strict_sequences=False)
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
                )
        rec = outs[nw + nc :]
        if prep.check_mode == "replay" and rec != prep.oracle_recorded:
            verdict = self._replay(task, prep, rec)
            if verdict is not None:
                status, fail = verdict
                if status is not Status.PASSED:
                    return CheckResult(status, fail, n_total, nw + nc, details=details, **base)
            else:
                details["check_mode"] = "direct"
                details["record_error"] = "the tests' calls depend on the candidate's answers"
                return self._direct(task, code, n_total, nw + nc, details, base)
        elif prep.check_mode == "direct":
            details["record_error"] = prep.record_error
            return self._direct(task, code, n_total, nw + nc, details, base)
        return CheckResult(Status.PASSED, None, n_total, n_total, details=details, **base)

    def _wrong(
        self, got: Any, exp: Any, inp: str, idx: int, n: int, details: dict, base: dict, why: str
    ) -> CheckResult:
        fail = Failure(
            input=inp,
            expected=codec.short_repr(codec.decode(exp), _LIMIT),
            got=codec.short_repr(codec.decode(got), _LIMIT),
            error=why,
        )
        return CheckResult(Status.WRONG_ANSWER, fail, n, idx, details=details, **base)

    def _replay(self, task: Task, prep: _Prepared, rec: list) -> tuple[Status, Failure | None] | None:
        """check() run without the candidate, fed its recorded answers. None: the calls diverged."""
        job = self._job(
            "replay",
            task,
            None,
            replay_outputs=rec,
            args_digests=prep.args_digests,
            check_parts=[["<prelude>", task.prelude], ["<tests>", task.check_source]],
        )
        res, _ = self._run(job, [])
        st = res["status"]
        if st == "ok":
            return Status.PASSED, None
        if st == "diverged":
            return None
        k = max(0, min(res.get("calls", 1) - 1, len(rec) - 1))
        if st in ("wrong_answer", "runtime_error") and rec:
            fail = Failure(
                input=prep.recorded.reprs[k] if k < len(prep.recorded) else "",
                expected=codec.short_repr(codec.decode(prep.oracle_recorded[k]), _LIMIT),
                got=codec.short_repr(codec.decode(rec[k]), _LIMIT),
                error=_short(res.get("error", ""), 800),
            )
            return Status.WRONG_ANSWER, fail
        return _failed(res), _failure(res)

    def _direct(self, task: Task, code: str, n: int, done: int, details: dict, base: dict) -> CheckResult:
        job = self._job(
            "direct", task, code, check_parts=[["<prelude>", task.prelude], ["<tests>", task.check_source]]
        )
        res, _ = self._run(job, [])
        st = res["status"]
        if st == "ok":
            return CheckResult(Status.PASSED, None, n, n, details=details, **base)
        return CheckResult(_failed(res), _failure(res), n, done, details=details, **base)

    def check_many(self, task: Task, codes: list[str]) -> list[CheckResult]:
        """`check` for many candidates, in parallel over the warm workers."""
        self._prepare(task)
        with ThreadPoolExecutor(max_workers=self.pool.size) as ex:
            return list(ex.map(lambda c: self.check(task, c), codes))

    # ------------------------------------------------------------ measure / compare
    def measure(
        self,
        task: Task,
        code: str | None = None,
        repeats: int | None = None,
        profile: bool = False,
        instructions: bool = False,
    ) -> Measurement:
        """CPU time over the workload (repeated), peak memory, memory-time integral, profile.

        CPU time is the user+sys time of the child process (and anything it forked) from the kernel's
        ``wait4`` rusage: it includes executing the module and serializing the outputs, the same work for
        every candidate. The memory/profile numbers come from one separate run (tracing slows code down).
        """
        code = task.code if code is None else code
        chk = self.check(task, code)
        if not chk.passed:
            return Measurement(chk.status, failure=chk.failure, details={"check": chk.to_dict()})
        prep = self._prepare(task)
        timed = _Timed(self, task, prep, code, chk.details["digest"])
        with self.pool.acquire() as w:
            timed.run(w)  # warm-up (discarded)
            n = 0
            while timed.status is Status.PASSED and self._more(n, repeats, timed.total):
                timed.run(w)
                n += 1
            if timed.status is not Status.PASSED:
                return timed.failed()
            mem = self._memory(task, prep, code, w, profile)
        m = timed.measurement(mem, chk, code, profile=profile)
        if instructions:
            from dataclasses import replace

            m = replace(m, instructions=self._instructions(task, code))
        return m

    def _more(self, n: int, repeats: int | None, total: float) -> bool:
        if repeats is not None:
            return n < repeats
        cfg = self.config
        return n < cfg.min_repeats or (n < cfg.max_repeats and total < cfg.time_budget_s)

    def _memory(self, task: Task, prep: _Prepared, code: str, w: Worker, profile: bool = False) -> dict:
        """Traced-memory/profile runs (fresh forks), repeated until enough samples, merged.

        The profiling timer fires on the kernel's tick (4 ms of CPU at HZ=250), so a short run gets few
        samples: runs repeat until 20 samples (100 with `profile`), 1 s of CPU or 40 runs (200). Samples are
        equally spaced in CPU time, so the trapezoid rule reduces to mean x duration; pooling the samples
        of all runs, the integral is (mean sampled traced memory) x (median untraced CPU time of a run).
        Peak: the largest of the runs; profile counts: summed.
        """
        job = self._timing_job(task, prep, code, memory=True, interval=self.config.profile_interval_s)
        want = 100 if profile else 20
        runs: list[dict] = []
        while not runs or (
            sum(r["samples"] for r in runs) < want
            and sum(r["memory_cpu"] for r in runs) < 1.0
            and len(runs) < (200 if profile else 40)
        ):
            res, _ = self._run(job, self._timing_groups(prep), w)
            clean = _clean_memory(res) if res["status"] == "ok" else None
            if clean is None:
                break
            runs.append(clean)
        if not runs:
            return {}
        recorded = sum(r["recorded"] for r in runs)
        lines: dict[tuple, int] = {}
        funcs: dict[str, int] = {}
        for r in runs:
            for fn, ln, c in r["prof_lines"]:
                lines[(fn, ln)] = lines.get((fn, ln), 0) + c
            for fn, c in r["prof_funcs"]:
                funcs[fn] = funcs.get(fn, 0) + c
        return {
            "peak_traced": max(r["peak_traced"] for r in runs),
            "mem_mean": sum(r["mem_sum"] for r in runs) / recorded if recorded else None,
            "integral_raw": statistics.median(r["integral_raw"] for r in runs),
            "memory_cpu": statistics.median(r["memory_cpu"] for r in runs),
            "samples": sum(r["samples"] for r in runs),
            "runs": len(runs),
            "prof_lines": [[fn, ln, c] for (fn, ln), c in lines.items()],
            "prof_funcs": [[fn, c] for fn, c in funcs.items()],
        }

    def _instructions(self, task: Task, code: str) -> int | None:
        from afterburner.sandbox.callgrind import count_instructions

        return count_instructions(self, task, code, self._timing_groups(self._prepare(task)))

    def compare(
        self, task: Task, code_a: str, code_b: str, repeats: int | None = None, min_gain: float = 0.05
    ) -> Comparison:
        """A (baseline) against B, timed interleaved A B A B ... on one worker; speedup = median A / median B."""
        ca, cb = self.check_many(task, [code_a, code_b])
        prep = self._prepare(task)
        if not (ca.passed and cb.passed):
            ma = Measurement(ca.status, failure=ca.failure, details={"check": ca.to_dict()})
            mb = Measurement(cb.status, failure=cb.failure, details={"check": cb.to_dict()})
            return compare_samples(ma, mb, min_gain)
        ta = _Timed(self, task, prep, code_a, ca.details["digest"])
        tb = _Timed(self, task, prep, code_b, cb.details["digest"])
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
            mem_a = self._memory(task, prep, code_a, w) if ta.status is Status.PASSED else {}
            mem_b = self._memory(task, prep, code_b, w) if tb.status is Status.PASSED else {}
        ma = ta.measurement(mem_a, ca, code_a) if ta.status is Status.PASSED else ta.failed()
        mb = tb.measurement(mem_b, cb, code_b) if tb.status is Status.PASSED else tb.failed()
        return compare_samples(ma, mb, min_gain)


def _sane(res: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
    """A run's result with the fields a candidate could forge (it can write to its result pipe) made
    harmless: text fields are text, numbers are numbers; the zygote's own fields (cpu, wall, maxrss,
    stdout) are set by the zygote after the child's and are trusted."""
    for k in ("error", "input", "got"):
        if k in res and not isinstance(res[k], str):
            res[k] = str(res[k])[:2000]
    for k in ("index", "rss_start", "calls"):
        if k in res and (type(res[k]) is not int):
            res[k] = 0
    if "digest" in res and not isinstance(res["digest"], str):
        res["digest"] = ""
    if "status" in res and not isinstance(res["status"], str):
        res["status"] = "?"
    return res, blobs


def _clean_memory(r: dict) -> dict | None:
    """A traced run's figures, validated (None if a forged result left them malformed)."""
    try:
        out = {
            k: float(r[k])
            for k in ("samples", "memory_cpu", "mem_sum", "recorded", "peak_traced", "integral_raw")
        }
        out["prof_lines"] = [[str(fn), int(ln), int(c)] for fn, ln, c in r["prof_lines"]]
        out["prof_funcs"] = [[str(fn), int(c)] for fn, c in r["prof_funcs"]]
    except (KeyError, TypeError, ValueError):
        return None
    out["samples"], out["recorded"], out["peak_traced"] = (
        int(out["samples"]),
        int(out["recorded"]),
        int(out["peak_traced"]),
    )
    return out


def _check_parts(task: Task) -> list[list[str]]:
    return [["<prelude>", task.prelude], ["<tests>", task.check_source or ""]]


def _times_direct(prep: _Prepared) -> bool:
    return (
        prep.workload_is_tests
        and not len(prep.cases)
        and not len(prep.recorded)
        and prep.check_mode == "direct"
    )


def _has_unsupported(enc: Any) -> bool:
    if isinstance(enc, list):
        return any(_has_unsupported(x) for x in enc)
    if isinstance(enc, dict):
        if "__unsupported__" in enc:
            return True
        return any(_has_unsupported(x) for x in enc.values())
    return False


class _Timed:
    """Repeated timing runs of one candidate; each must reproduce the digest of its checked outputs."""

    def __init__(self, sb: Sandbox, task: Task, prep: _Prepared, code: str, digest: str) -> None:
        self.sb, self.task, self.prep, self.code, self.digest = sb, task, prep, code, digest
        self.groups = sb._timing_groups(prep)
        self.job = sb._timing_job(task, prep, code)
        self.direct = _times_direct(prep)  # no outputs to digest: each timed run must pass check itself
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.rss: list[int] = []
        self.status = Status.PASSED
        self.last: dict = {}
        self._warm = False

    @property
    def total(self) -> float:
        return sum(self.cpu)

    def run(self, w: Worker) -> None:
        res, _ = self.sb._run(self.job, self.groups, w)
        self.last = res
        if res["status"] != "ok":
            self.status = _failed(res)
            return
        if not self.direct and res.get("digest") != self.digest:
            self.status = Status.WRONG_ANSWER
            self.last = dict(res, error="the outputs in a timed run differ from the checked outputs")
            return
        if not self._warm:
            self._warm = True
            return
        self.cpu.append(res["cpu"])
        self.wall.append(res["wall"])
        self.rss.append(max(0, res["maxrss"] - res.get("rss_start", 0)))

    def failed(self) -> Measurement:
        return Measurement(self.status, failure=_failure(self.last), details={"phase": "timing"})

    def measurement(self, mem: dict, chk: CheckResult, code: str, profile: bool = True) -> Measurement:
        cpu = summarize(self.cpu)
        details = {
            "isolation": self.sb.isolation,
            "check_mode": chk.details.get("check_mode"),
            "workload": ("tests (check run directly)" if self.direct else "tests")
            if self.prep.workload_is_tests
            else "workload",
            "n_inputs": sum(len(g) for g in self.groups),
        }
        integral = None
        if mem:
            if mem.get("mem_mean") is not None:
                integral = mem["mem_mean"] * cpu.median
            details.update(
                memory_runs=mem.get("runs"),
                memory_samples=mem.get("samples"),
                mean_traced_bytes=mem.get("mem_mean"),
                integral_note="byte-seconds: mean traced memory (tracemalloc, sampled every profiling "
                "tick over all memory runs) x median CPU time of the untraced runs",
            )
        return Measurement(
            Status.PASSED,
            cpu_time_s=cpu,
            wall_time_s=summarize(self.wall),
            peak_memory_bytes=mem.get("peak_traced") if mem else None,
            peak_rss_bytes=int(statistics.median(self.rss)) if self.rss else None,
            integral=integral,
            profile=_profile(mem, code) if mem and profile else None,
            details=details,
        )


def _profile(mem: dict, code: str) -> Profile:
    n = mem.get("samples", 0)
    if not n:
        return Profile()
    src = code.splitlines()
    lines = sorted(mem.get("prof_lines", []), key=lambda x: -x[2])
    out_lines = tuple(
        {"line": ln, "share": c / n, "code": src[ln - 1] if 0 < ln <= len(src) else "", "function": fn}
        for fn, ln, c in lines
    )
    self_counts: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for fn, ln, c in lines:
        self_counts[fn] = self_counts.get(fn, 0) + c
        first_line[fn] = min(first_line.get(fn, ln), ln)
    funcs = tuple(
        {
            "name": fn,
            "line": first_line.get(fn, 0),
            "self_share": self_counts.get(fn, 0) / n,
            "total_share": c / n,
        }
        for fn, c in sorted(mem.get("prof_funcs", []), key=lambda x: -x[1])
    )
    return Profile(funcs, out_lines, n)
