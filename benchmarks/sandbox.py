"""How good is the measuring sandbox? A script (not a test): run it on a quiet machine.

    python benchmarks/sandbox.py            # the full run (several minutes)
    python benchmarks/sandbox.py --quick    # a smoke run (about a minute), numbers are rougher
    python benchmarks/sandbox.py --overhead-only --backend bwrap --backend docker   # 1. for each backend
    python benchmarks/sandbox.py --per-backend --backend bwrap --backend none --backend docker
        # 1. and the CV at ~5 and ~50 ms for each backend, in one run, as one Markdown table

Prints, with the targets:
1. per-evaluation overhead: one check of a trivial function on a warm worker, vs a fresh ``python -c pass``;
2. coefficient of variation of the reported median CPU time (over independent `measure` calls) for
   ~5 ms, ~50 ms and ~500 ms workloads, idle and with one CPU-bound process running beside it;
3. false-accept rate of `compare` on identical code (``improved`` must be False);
4. peak-memory error on a known 100 MiB allocation (tracemalloc peak, and peak RSS growth).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

from afterburner.sandbox import Sandbox, SandboxConfig
from afterburner.task import Case, Task

BUSY = "def f(n):\n    s = 0\n    for i in range(n):\n        s += i * i\n    return s\n"
ALLOC = "def f(n):\n    x = bytearray(n)\n    return len(x)\n"
MiB = 1 << 20


def task(code: str, n: int) -> Task:
    return Task(name="bench", entry_point="f", code=code, workload_inputs=(Case((n,)),))


def _ticks(pid: int) -> float:
    """CPU seconds of a process and of the children it has reaped (utime+stime+cutime+cstime)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def overhead(sb: Sandbox, n: int) -> tuple[float, float, float, float]:
    """Per evaluation (check of a trivial function): wall ms and CPU ms (ours + the worker's + the child's)
    on the warm pool; and the same for a fresh `python -c pass`."""
    t = Task(
        name="trivial", entry_point="f", code="def f(n):\n    return n\n", cases=(Case((1,), {}, 1, True),)
    )
    sb.check(t)  # prepare and warm up
    zygote = sb.pool.zygote_pids()[0]
    # the worker is a manager and the template it forked (the template reaps the runs): count both
    with open(f"/proc/{zygote}/task/{zygote}/children") as f:
        workers = [zygote, *(int(p) for p in f.read().split())]
    c0, z0, t0 = time.process_time(), sum(map(_ticks, workers)), time.perf_counter()
    for _ in range(n):
        assert sb.check(t).passed
    warm = (time.perf_counter() - t0) / n * 1e3
    warm_cpu = (time.process_time() - c0 + sum(map(_ticks, workers)) - z0) / n * 1e3
    m = max(5, n // 4)
    r0, t0 = os.times(), time.perf_counter()
    for _ in range(m):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    r1 = os.times()
    fresh = (time.perf_counter() - t0) / m * 1e3
    fresh_cpu = (r1.children_user + r1.children_system - r0.children_user - r0.children_system) / m * 1e3
    return warm, warm_cpu, fresh, fresh_cpu


def calibrate(sb: Sandbox, target_s: float) -> int:
    n = 20_000
    for _ in range(4):
        m = sb.measure(task(BUSY, n), repeats=3)
        cpu = m.cpu_time_s.median
        n = max(1000, int(n * target_s / cpu))
        if abs(cpu - target_s) / target_s < 0.1:
            break
    return n


def cv_of_medians(sb: Sandbox, n: int, trials: int) -> tuple[float, float]:
    medians = [sb.measure(task(BUSY, n)).cpu_time_s.median for _ in range(trials)]
    mean = statistics.fmean(medians)
    return statistics.stdev(medians) / mean, mean


@contextmanager
def cpu_hog():
    """One CPU-bound process beside the measurement (ours; killed by its pid afterwards)."""
    p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        yield
    finally:
        p.kill()
        p.wait()


def false_accepts(sb: Sandbox, n: int, trials: int) -> tuple[int, int, float]:
    t = task(BUSY, n)
    accepted, widths = 0, []
    for _ in range(trials):
        c = sb.compare(t, BUSY, BUSY)
        accepted += bool(c.improved)
        widths.append(c.speedup_ci[1] - c.speedup_ci[0])
    return accepted, trials, statistics.median(widths)


def memory_error(sb: Sandbox) -> tuple[float, float]:
    size = 100 * MiB
    m = sb.measure(task(ALLOC, size), repeats=3)
    return (m.peak_memory_bytes - size) / size, ((m.peak_rss_bytes or 0) - size) / size


def print_overhead(sb: Sandbox, n: int) -> None:
    warm, warm_cpu, fresh, fresh_cpu = overhead(sb, n)
    print(
        f"\n1. per-evaluation overhead, isolation {sb.isolation} (check of a trivial function, sequential):\n"
        f"   warm pool: {warm:.2f} ms wall, {warm_cpu:.2f} ms CPU (ours + worker + child)\n"
        f"   fresh `python -c pass`: {fresh:.2f} ms wall, {fresh_cpu:.2f} ms CPU\n"
        f"   [target <= 5 ms wall: {'OK' if warm <= 5 else 'MISSED'}; load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs]"
    )


def per_backend(backends: list[str], quick: bool) -> None:
    """1. and the idle CV (2.) for each backend, interleaved by round so that they share the machine's
    conditions, then one Markdown table of medians."""
    rows: dict[str, dict[str, list[float]]] = {b: {} for b in backends}
    rounds, trials = (2, 5) if quick else (3, 10)
    sandboxes = {b: Sandbox(SandboxConfig(timeout_s=60, isolation=b), workers=1) for b in backends}
    try:
        sizes = {t: calibrate(sandboxes[backends[0]], t) for t in (0.005, 0.05)}  # the same work for all
        for r in range(rounds):
            for b, sb in sandboxes.items():
                warm, warm_cpu, _, _ = overhead(sb, 40 if quick else 200)
                got = {"wall": warm, "cpu": warm_cpu}
                for target, n in sizes.items():
                    got[f"cv{target * 1e3:.0f}"] = 100 * cv_of_medians(sb, n, trials)[0]
                for k, v in got.items():
                    rows[b].setdefault(k, []).append(v)
                print(f"   round {r + 1}/{rounds}, {b}: " + ", ".join(f"{k} {v:.2f}" for k, v in got.items()))
    finally:
        for sb in sandboxes.values():
            sb.close()
    med = {b: {k: statistics.median(v) for k, v in row.items()} for b, row in rows.items()}
    print(f"\n| median of {rounds} rounds | " + " | ".join(backends) + " |")
    print("| --- |" + " --- |" * len(backends))
    for key, label in (
        ("wall", "per-evaluation overhead, wall (ms)"),
        ("cpu", "per-evaluation overhead, CPU: ours + worker + child (ms)"),
        ("cv5", f"CV of the median CPU time, ~5 ms workload, {trials} measures (%)"),
        ("cv50", f"CV of the median CPU time, ~50 ms workload, {trials} measures (%)"),
    ):
        print(f"| {label} | " + " | ".join(f"{med[b][key]:.2f}" for b in backends) + " |")
    first = backends[0]
    for b in backends[1:]:
        print(f"{b}: {med[b]['wall'] / med[first]['wall']:.2f}x {first}'s wall overhead")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer trials: checks that it works, rough numbers")
    ap.add_argument(
        "--backend",
        action="append",
        choices=("auto", "bwrap", "none", "docker"),
        help="the sandbox backend (repeat it to compare: 1. runs for each, 2-4 for the first; default auto)",
    )
    ap.add_argument("--overhead-only", action="store_true", help="only 1. (the per-evaluation overhead)")
    ap.add_argument(
        "--per-backend", action="store_true", help="1. and the idle CV of 2. for every --backend, one table"
    )
    args = ap.parse_args()
    quick = args.quick
    backends = args.backend or ["auto"]
    print(f"afterburner sandbox benchmark ({'quick' if quick else 'full'} run), {os.cpu_count()} CPUs")
    if args.per_backend:
        per_backend(backends, quick)
        return 0
    with Sandbox(SandboxConfig(timeout_s=60, isolation=backends[0]), workers=1) as sb:
        print_overhead(sb, 40 if quick else 200)
        for backend in backends[1:]:
            with Sandbox(SandboxConfig(timeout_s=60, isolation=backend), workers=1) as other:
                print_overhead(other, 40 if quick else 200)
        if args.overhead_only:
            return 0

        print(
            "\n2. CV of the reported median CPU time (stdev / mean of medians over independent measure calls)"
        )
        trials = 5 if quick else 15
        targets = (0.005, 0.05) if quick else (0.005, 0.05, 0.5)
        sizes = {t: calibrate(sb, t) for t in targets}
        for label, ctx in (("idle", None), ("one CPU-bound process beside it", cpu_hog)):
            for target, n in sizes.items():
                if ctx is None:
                    cv, mean = cv_of_medians(sb, n, trials)
                else:
                    with ctx():
                        cv, mean = cv_of_medians(sb, n, trials)
                goal = 0.02 if ctx is None else 0.05
                mark = (
                    f" [target at 50 ms <= {goal:.0%}: {'OK' if cv <= goal else 'MISSED'}]"
                    if target == 0.05
                    else ""
                )
                print(
                    f"   {label:>32}: ~{target * 1e3:5.0f} ms workload (median {mean * 1e3:7.2f} ms), "
                    f"CV {100 * cv:5.2f}% over {trials} measurements{mark}"
                )

        n5 = sizes[0.005]
        acc, tot, width = false_accepts(sb, n5, 30 if quick else 120)
        print(
            f"\n3. compare on identical code (~5 ms workload): improved {acc} of {tot} times = {acc / tot:.1%} "
            f"(median 95% interval width {width:.3f}) [target < 2%: {'OK' if acc / tot < 0.02 else 'MISSED'}]"
        )

        err_traced, err_rss = memory_error(sb)
        print(
            f"\n4. known 100 MiB allocation: tracemalloc peak error {100 * err_traced:+.2f}%, "
            f"peak RSS growth error {100 * err_rss:+.2f}% "
            f"[target within 5%: {'OK' if abs(err_traced) <= 0.05 else 'MISSED'}]"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
