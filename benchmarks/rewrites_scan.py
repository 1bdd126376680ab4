"""Which mechanical rewrites apply to the tasks of a suite, and (optionally) what the sandbox says of them.

    python benchmarks/rewrites_scan.py                                   # static: no sandbox, no profile
    nice -n 10 python benchmarks/rewrites_scan.py --profile              # the original's profile steers them
    nice -n 10 python benchmarks/rewrites_scan.py --profile --measure    # check + compare each one

For each task: the rewrites of `afterburner.agent.rewrites` that apply to its original (and why), and
those that found their pattern but stay out (and why). With `--profile` the original is measured first
and its profile and run time passed on, as the optimizer does in its first round. With `--measure` each rewrite is
checked in the sandbox and, when correct, compared interleaved with the original (the verdict the
optimizer would reach; the speedup with its 95% interval). No model runs.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import time
from pathlib import Path

from afterburner.agent.rewrites import plan_rewrites
from afterburner.task import load_task_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="benchmarks/suites/real")
    ap.add_argument("--profile", action="store_true", help="measure each original and use its profile")
    ap.add_argument(
        "--measure", action="store_true", help="check and compare each rewrite (implies --profile)"
    )
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        sb = None
        if args.profile or args.measure:
            from afterburner.sandbox import Sandbox

            sb = stack.enter_context(Sandbox(workers=1))
        applied = 0
        files = sorted(glob.glob(str(Path(args.suite) / "*.yaml")))
        for f in files:
            task = load_task_file(f)
            m = sb.measure(task, task.code, profile=True) if sb else None
            run_s = m.cpu_time_s.median if m is not None and m.ok else None
            found, skipped = plan_rewrites(task.code, task.entry_point, m and m.profile, run_s)
            applied += bool(found)
            print(f"{task.name}: {', '.join(r.name for r in found) or '-'}", flush=True)
            for r in found:
                print(f"    applies  {r.name}: {r.why}")
                if args.measure:
                    print(f"             {_verdict(sb, task, r.code)}", flush=True)
            for s in skipped:
                print(f"    skipped  {s.name}: {s.reason}")
        print(f"\n{applied} of {len(files)} tasks have a rewrite that applies")


def _verdict(sb, task, code: str) -> str:
    t0 = time.monotonic()
    chk = sb.check(task, code)
    if not chk.passed:
        err = [ln for ln in ((chk.failure.error if chk.failure else "") or "").splitlines() if ln.strip()]
        return f"sandbox: {chk.status.value}{': ' + err[-1][:120] if err else ''}"
    c = sb.compare(task, task.code, code)
    lo, hi = c.speedup_ci
    sig = "significant" if c.improved else "not significant"
    return f"sandbox: correct, {c.speedup:.2f}x [{lo:.2f}, {hi:.2f}] {sig} ({time.monotonic() - t0:.0f} s)"


if __name__ == "__main__":
    main()
