"""Timed and traced runs of one candidate, and what they add up to (`Measurement`)."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from afterburner.measurement import call_shares, summarize
from afterburner.results import CheckResult, Measurement, Profile, Status
from afterburner.sandbox.prepare import Prepared, times_direct
from afterburner.sandbox.verdict import failed_status, failure_of

if TYPE_CHECKING:
    from afterburner.sandbox.jobs import JobRunner
    from afterburner.sandbox.pool import SandboxBackend
    from afterburner.task import Task


class Timed:
    """Repeated timing runs of one candidate; each must reproduce the digest of its checked outputs."""

    def __init__(self, runner: JobRunner, task: Task, prep: Prepared, code: str, digest: str) -> None:
        self.runner, self.task, self.prep, self.code, self.digest = runner, task, prep, code, digest
        self.groups = runner.timing_groups(prep)
        self.job = runner.timing_job(task, prep, code)
        self.direct = times_direct(prep)  # no outputs to digest: each timed run must pass check itself
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.rss: list[int] = []
        self.status = Status.PASSED
        self.last: dict = {}
        self._warm = False

    @property
    def total(self) -> float:
        return sum(self.cpu)

    def run(self, w: SandboxBackend) -> None:
        res, _ = self.runner.run(self.job, self.groups, w)
        self.last = res
        if res["status"] != "ok":
            self.status = failed_status(res)
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
        # both from the parent's side: the kernel's peak (wait4) and the RSS the harness saw before any
        # candidate code ran (its "ready" message, with the kernel's peak counter reset to it)
        self.rss.append(max(0, int(res.get("maxrss", 0)) - int(res.get("rss_ready", 0))))

    def failed(self) -> Measurement:
        return Measurement(self.status, failure=failure_of(self.last), details={"phase": "timing"})

    def measurement(self, mem: dict, chk: CheckResult, code: str, profile: bool = True) -> Measurement:
        cpu = summarize(self.cpu)
        details = {
            "isolation": self.runner.isolation,
            "check_mode": chk.details.get("check_mode"),
            "workload": ("tests (check run directly)" if self.direct else "tests")
            if self.prep.workload_is_tests
            else "workload",
            "n_inputs": sum(len(g) for g in self.groups),
        }
        integral = None
        kernel_peak = int(statistics.median(self.rss)) if self.rss else None
        peak = mem.get("peak_traced") if mem else None
        if mem and not plausible(mem):
            # tracemalloc's figures are the candidate's own process talking: ones the kernel's peak of the
            # same runs contradicts are dropped, and the kernel's figures stand alone
            details["traced_memory_rejected"] = True
            mem = dict(mem, mem_mean=kernel_peak, peak_traced=None)
            peak = None
        if kernel_peak is not None:
            peak = kernel_peak if peak is None else max(peak, kernel_peak)  # the kernel's is a floor
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
            peak_memory_bytes=peak,
            peak_rss_bytes=kernel_peak,
            integral=integral,
            profile=profile_of(mem, code) if mem and profile else None,
            details=details,
        )


def plausible(mem: dict) -> bool:
    """Traced figures the kernel does not contradict: tracemalloc's own bookkeeping and the allocator make
    the resident set grow more than the traced peak, by a small factor, never 8x beyond a few MiB."""
    kernel = mem.get("kernel_peak")
    if kernel is None or mem.get("peak_traced") is None:
        return True
    return mem["peak_traced"] * 8 + (8 << 20) >= kernel


def profile_of(mem: dict, code: str) -> Profile:
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
    return Profile(funcs, out_lines, n, call_shares(mem.get("prof_calls", []), code, n))
