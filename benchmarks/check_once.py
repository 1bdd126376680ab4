"""Sandbox work of one `optimize` of the README example, per accepted candidate: how many checks, and
how many CPU seconds. A script (not a test): it runs the sandbox, so run it once, on a quiet machine.

    PYTHONPATH=. python benchmarks/check_once.py              # the tree it is run from
    cd /tmp/before && PYTHONPATH=. python /path/to/benchmarks/check_once.py   # another tree: "before"

`examples/duplicates.py::find_duplicates` with its tests and workload, the default strategy with the
scripted backend: round 1's reply is `examples/duplicates_fast.py` (faster and correct: accepted), round
2's the same algorithm written another way (not faster: rejected), then the final comparison, original
against best. One candidate per round, no mechanical rewrites, a fixed number of timed runs, so that two
trees do the same timing work and differ only in what they check and measure around it.

Prints the checks (`Sandbox.check` calls) of each program; the CPU seconds of the sandbox's runs (user +
sys of each run's process, from the kernel: in checks, and in all), and of the warm workers in all
(their own time and the runs they reaped); each per accepted candidate. The task's preparation (its
inputs and the original's outputs) is done first and left out.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import afterburner
from afterburner.agent.optimizer import Optimizer
from afterburner.sandbox import Sandbox
from afterburner.sandbox.jobs import JobRunner
from afterburner.task import load_target
from afterburner.trajectory import read_trajectory

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
FAST = (EX / "duplicates_fast.py").read_text()
# the same counting pass, written another way: correct, not significantly faster than FAST
SAME = FAST.replace("counts[x] > 1]", "1 < counts[x]]")


def block(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```\n"


class Tally:
    """Counts `Sandbox.check` calls per code, and sums the CPU seconds of every run (those inside a check
    apart), by wrapping the two methods on their classes."""

    def __init__(self) -> None:
        self.checks: Counter[str] = Counter()
        self.cpu_all = self.cpu_checks = 0.0
        self.runs = 0
        self._lock, self._local = threading.Lock(), threading.local()

    def install(self) -> None:
        check, run = Sandbox.check, JobRunner.run
        tally = self

        def counted_check(sb, task, code=None):
            with tally._lock:
                tally.checks[task.code if code is None else code] += 1
            tally._local.depth = getattr(tally._local, "depth", 0) + 1
            try:
                return check(sb, task, code)
            finally:
                tally._local.depth -= 1

        def counted_run(runner, job, groups, worker=None):
            res, blobs = run(runner, job, groups, worker)
            cpu = float(res.get("cpu", 0.0) or 0.0)
            with tally._lock:
                tally.runs += 1
                tally.cpu_all += cpu
                if getattr(tally._local, "depth", 0):
                    tally.cpu_checks += cpu
            return res, blobs

        Sandbox.check, JobRunner.run = counted_check, counted_run

    def reset(self) -> None:
        with self._lock:
            self.checks.clear()
            self.cpu_all = self.cpu_checks = 0.0
            self.runs = 0


def _ticks(pid: int) -> float:
    """CPU seconds of a process and of the children it has reaped (utime+stime+cutime+cstime)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def worker_cpu(sb: Sandbox) -> float:
    """CPU seconds so far of the warm workers: each manager and the template it forked (which reaps
    the runs), as `benchmarks/sandbox.py` counts them."""
    total = 0.0
    for z in sb.pool.zygote_pids():
        with open(f"/proc/{z}/task/{z}/children") as f:
            total += sum(_ticks(p) for p in [z, *(int(p) for p in f.read().split())])
    return total


def revision(tree: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True)
        return out.stdout.decode().strip() or "?"
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (default 5)")
    ap.add_argument("--size", type=int, default=3000, help="the workload's size (the example's: 3000)")
    args = ap.parse_args()
    tree = Path(afterburner.__file__).resolve().parents[1]
    task = load_target(
        f"{EX / 'duplicates.py'}::find_duplicates",
        tests=EX / "duplicates_tests.py",
        workload=EX / "duplicates_workload.py",
        sizes=[args.size],
    )
    tally = Tally()
    tally.install()
    with Sandbox(workers=2) as sb, tempfile.TemporaryDirectory() as out:
        sb._prepare(task)  # the task's inputs and the original's outputs: the same on any tree, left out
        tally.reset()
        w0, t0 = worker_cpu(sb), time.perf_counter()
        opt = Optimizer(
            backend="scripted",
            replies=[block(FAST), block(SAME)],
            sandbox=sb,
            out_dir=out,
            rounds=2,
            candidates=1,
            patience=5,
            rewrites=False,
            repeats=args.repeats,
        )
        res = opt.run(task)
        wall, workers = time.perf_counter() - t0, worker_cpu(sb) - w0
        steps = read_trajectory(res.trajectory_path).steps
    accepted = [s for s in steps if s["accepted"]]
    n = max(1, len(accepted))
    print(f"tree {tree} at {revision(tree)}; repeats {args.repeats}, size {args.size}")
    print(
        f"result: {res.status}, speedup {res.speedup:.2f}x, {len(accepted)} of {len(steps)} candidates accepted"
    )
    names = {task.code: "original"}
    for s in steps:
        names.setdefault(s["code"], f"round {s['round']} ({'accepted' if s['accepted'] else 'rejected'})")
    for code, name in names.items():
        print(f"  checks of the {name}: {tally.checks.get(code, 0)}")
    total = sum(tally.checks.values())
    print(f"checks: {total} in all, {total / n:.1f} per accepted candidate")
    print(f"runs: {tally.runs}; their CPU: {tally.cpu_all:.2f} s, of which checks {tally.cpu_checks:.2f} s")
    print(f"per accepted candidate: runs {tally.cpu_all / n:.2f} CPU s, workers {workers / n:.2f} CPU s")
    print(f"(workers in all: {workers:.2f} CPU s; wall {wall:.1f} s)")


if __name__ == "__main__":
    main()
