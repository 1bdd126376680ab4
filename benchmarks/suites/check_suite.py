"""Check a benchmark suite mechanically: every task's starting code and reference are right, and the
reference is significantly faster.

For each task (a ``*.yaml``/``*.json`` task file in SUITE_DIR, or, for a directory like ``examples/``,
each ``<name>.py`` with ``<name>_tests.py``, ``<name>_workload.py`` and ``<name>_fast.py``):

- `Sandbox.compare(task, task.code, task.reference)` checks both on the tests and on the workload (the
  reference's outputs must equal the starting code's), then times them interleaved (A B A B ...);
- the task is ok when both pass and ``improved`` is True (the 95% interval of the speedup lies above
  1 + min_gain), and, with ``--min-speedup X``, the interval's low end is at least X (the headroom a
  suite promises, e.g. 1.3 for ``real/``).

Prints one row per task (naive and reference CPU-time medians per workload run, speedup with its
interval, peak memory ratio, ok) and exits 1 if any task fails, 2 on bad arguments.

    python benchmarks/suites/check_suite.py benchmarks/suites/dev [--only ID ...] [--repeats 5]
    python benchmarks/suites/check_suite.py benchmarks/suites/real --min-speedup 1.3
    python benchmarks/suites/check_suite.py examples
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from afterburner.errors import AfterburnerError
from afterburner.sandbox import Sandbox, SandboxConfig
from afterburner.task import Task, load_target, load_task_file

# the naive code should take roughly this long per workload run (ms of CPU); outside it is flagged
NAIVE_RANGE_MS = (40.0, 600.0)


@dataclass
class Row:
    task: str
    ok: bool
    naive_ms: float = math.nan
    reference_ms: float = math.nan
    speedup: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    memory_ratio: float | None = None
    note: str = ""


def _example_function(source: str) -> str:
    names = [
        n.name
        for n in ast.parse(source).body
        if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")
    ]
    if len(names) != 1:
        raise AfterburnerError(f"expected one public function, found {names}")
    return names[0]


def load_examples(directory: Path) -> list[Task]:
    """The examples layout: <name>.py, <name>_tests.py, <name>_workload.py, <name>_fast.py."""
    tasks = []
    for workload in sorted(directory.glob("*_workload.py")):
        name = workload.name.removesuffix("_workload.py")
        code_path = directory / f"{name}.py"
        fast = directory / f"{name}_fast.py"
        func = _example_function(code_path.read_text(encoding="utf-8"))
        task = load_target(f"{code_path}::{func}", tests=directory / f"{name}_tests.py", workload=workload)
        reference = fast.read_text(encoding="utf-8") if fast.is_file() else None
        tasks.append(replace(task, name=name, reference=reference))
    return tasks


def load_suite(directory: Path) -> list[Task]:
    """Task files (*.yaml, *.yml, *.json) in `directory`, or the examples layout when there are none."""
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    if files:
        return [load_task_file(p) for p in files]
    return load_examples(directory)


def check_task(
    sb: Sandbox, task: Task, repeats: int | None, min_gain: float, min_speedup: float | None = None
) -> Row:
    if not task.reference:
        return Row(task.name, False, note="no reference solution")
    cmp = sb.compare(task, task.code, task.reference, repeats=repeats, min_gain=min_gain)
    row = Row(task.name, False, memory_ratio=cmp.memory_ratio)
    for label, m in (("naive", cmp.a), ("reference", cmp.b)):
        if not m.ok:
            fail = m.failure.short(300).replace("\n", " | ") if m.failure else ""
            row.note = f"{label}: {m.status.value} {fail}".strip()
            return row
    row.naive_ms = 1000 * cmp.a.cpu_time_s.median
    row.reference_ms = 1000 * cmp.b.cpu_time_s.median
    row.speedup, (row.ci_low, row.ci_high) = cmp.speedup, cmp.speedup_ci
    row.ok = cmp.improved
    if not cmp.improved:
        row.note = f"not significantly faster (needs interval above {1 + min_gain:.2f})"
    elif min_speedup is not None and not row.ci_low >= min_speedup:
        row.ok = False
        row.note = f"headroom too small: interval's low end {row.ci_low:.2f}x < --min-speedup {min_speedup:g}"
    elif not NAIVE_RANGE_MS[0] <= row.naive_ms <= NAIVE_RANGE_MS[1]:
        row.note = f"naive time outside {NAIVE_RANGE_MS[0]:.0f}-{NAIVE_RANGE_MS[1]:.0f} ms"
    return row


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _row_line(r: Row) -> str:
    speed = f"{_fmt(r.speedup, '.2f')}x [{_fmt(r.ci_low, '.2f')}, {_fmt(r.ci_high, '.2f')}]"
    return f"{r.task}: {'ok' if r.ok else 'FAILED'}, naive {_fmt(r.naive_ms, '.1f')} ms, speedup {speed}" + (
        f"; {r.note}" if r.note else ""
    )


def print_table(rows: list[Row], file=sys.stdout) -> None:
    width = max([len(r.task) for r in rows] + [4])
    head = f"{'task':<{width}}  {'naive ms':>9}  {'ref ms':>8}  {'speedup':>8}  {'95% interval':>17}  {'mem B/A':>7}  ok"
    print(head, file=file)
    print("-" * len(head), file=file)
    for r in rows:
        interval = f"[{_fmt(r.ci_low, '.1f')}, {_fmt(r.ci_high, '.1f')}]"
        print(
            f"{r.task:<{width}}  {_fmt(r.naive_ms, '9.1f')}  {_fmt(r.reference_ms, '8.2f')}  "
            f"{_fmt(r.speedup, '7.1f')}x  {interval:>17}  {_fmt(r.memory_ratio, '7.3g')}  "
            f"{'yes' if r.ok else 'NO'}{'  ' + r.note if r.note else ''}",
            file=file,
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Check a suite: code and reference correct, reference faster.")
    ap.add_argument("suite", type=Path, help="a directory of task files, or of examples")
    ap.add_argument("--only", nargs="+", metavar="TASK", help="check only these task names")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each side (default 5)")
    ap.add_argument("--min-gain", type=float, default=0.05, help="required gain of the interval's low end")
    ap.add_argument(
        "--min-speedup",
        type=float,
        default=None,
        metavar="X",
        help="also fail a task unless the low end of its speedup's 95%% interval is at least X (e.g. 1.3)",
    )
    ap.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    args = ap.parse_args(argv)
    if args.min_speedup is not None and not args.min_speedup >= 1.0:
        print(f"check_suite: --min-speedup must be at least 1 (got {args.min_speedup:g})", file=sys.stderr)
        return 2
    if not args.suite.is_dir():
        print(f"check_suite: {args.suite} is not a directory", file=sys.stderr)
        return 2
    try:
        tasks = load_suite(args.suite)
    except AfterburnerError as e:
        print(f"check_suite: {e}", file=sys.stderr)
        return 2
    if args.only:
        missing = sorted(set(args.only) - {t.name for t in tasks})
        if missing:
            print(f"check_suite: no task named {', '.join(missing)} in {args.suite}", file=sys.stderr)
            return 2
        tasks = [t for t in tasks if t.name in args.only]
    if not tasks:
        print(f"check_suite: no tasks in {args.suite}", file=sys.stderr)
        return 2
    started = time.monotonic()
    with Sandbox(SandboxConfig(timeout_s=30.0), workers=args.workers) as sb:
        done = iter(range(1, len(tasks) + 1))

        def one(task: Task) -> Row:
            try:
                row = check_task(sb, task, args.repeats, args.min_gain, args.min_speedup)
            except AfterburnerError as e:
                row = Row(task.name, False, note=str(e)[:300])
            # progress as each task finishes (the table comes at the end): a long run shows where it is
            print(f"[{next(done)}/{len(tasks)}] {_row_line(row)}", file=sys.stderr, flush=True)
            return row

        # each compare times on one worker; run as many tasks at once as there are workers
        with ThreadPoolExecutor(max_workers=sb.pool.size) as ex:
            rows = list(ex.map(one, tasks))
        isolation = sb.isolation
    print_table(rows)
    failed = [r.task for r in rows if not r.ok]
    headroom = f", headroom at least {args.min_speedup:g}x" if args.min_speedup is not None else ""
    print(
        f"\n{len(rows) - len(failed)}/{len(rows)} ok{headroom}; CPU time medians of {args.repeats} interleaved "
        f"runs per side, one run = the whole workload; sandbox isolation: {isolation}; "
        f"{time.monotonic() - started:.0f} s"
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n", encoding="utf-8")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
