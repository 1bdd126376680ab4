"""``afterburner compare A.py::NAME B.py::NAME --tests TESTS``: is B really faster than A?

Both are checked (B also against A's outputs on the workload), then timed interleaved (A B A B ...)
on one pinned worker. The speedup is median CPU(A) / median CPU(B) with a 95% bootstrap interval;
B counts as an improvement only when the interval's lower bound is above 1 + min-gain.
Exit code: 0 when both passed (whatever the speedup), 1 when either failed, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from afterburner.errors import TaskError


def register(subparsers: argparse._SubParsersAction) -> None:
    from afterburner.cli.measure_cmd import add_task_args

    p = subparsers.add_parser(
        "compare",
        help="compare two versions of a function: speedup with a 95%% interval, measured interleaved",
        description="Check both versions, then time them interleaved (A B A B ...) and report the speedup "
        "of B over A with a bootstrap interval.",
    )
    p.add_argument("a", metavar="A.py::NAME", help="the baseline")
    p.add_argument(
        "b", metavar="B.py::NAME", help="the candidate (same entry point, or a function to use as it)"
    )
    add_task_args(p)
    p.add_argument(
        "--min-gain",
        type=float,
        default=0.05,
        help="B is an improvement only if the interval's lower bound is above 1 + this (default 0.05)",
    )
    p.set_defaults(func=run)


def candidate_code(task: Any, target: str) -> str:
    """B's source, made to define the task's entry point (a plain function under another name is aliased)."""
    from afterburner.task import load_target, parse_entry_point

    b = load_target(target)
    if b.entry_point == task.entry_point:
        return b.code
    (a_name, a_inst, a_meth), (b_name, b_inst, b_meth) = (
        parse_entry_point(task.entry_point),
        parse_entry_point(b.entry_point),
    )
    if a_meth is None and b_meth is None:
        return f"{b.code}\n\n{a_name} = {b_name}  # added by afterburner compare\n"
    if (a_inst, a_meth) == (b_inst, b_meth):
        return f"{b.code}\n\n{a_name} = {b_name}  # added by afterburner compare\n"
    raise TaskError(
        f"B's entry point {b.entry_point!r} cannot stand in for A's {task.entry_point!r}: "
        "use the same Class.method shape"
    )


def run(args: argparse.Namespace) -> int:
    from afterburner.cli.measure_cmd import load_task, sandbox_config
    from afterburner.sandbox import Sandbox

    task = load_task(args.a, args)
    code_b = candidate_code(task, args.b)
    config = sandbox_config(args)
    with Sandbox(config, workers=min(2, _cpus())) as sb:
        c = sb.compare(task, task.code, code_b, repeats=args.repeats, min_gain=args.min_gain)
    if args.json:
        out = c.to_dict()
        out["task"] = task.name
        print(json.dumps(out, default=str))
    else:
        print_comparison(task.name, c)
    return 0 if c.a.ok and c.b.ok else 1


def _cpus() -> int:
    import os

    return max(1, len(os.sched_getaffinity(0)))


def print_comparison(name: str, c: Any) -> None:
    from rich.console import Console

    from afterburner.cli.measure_cmd import print_measurement

    console = Console()
    print_measurement(name, c.a, title=f"A (baseline): {name}")
    print_measurement(name, c.b, title=f"B (candidate): {name}")
    if math.isnan(c.speedup):
        console.print(f"No speedup: A {c.status_a.value}, B {c.status_b.value}.", markup=False)
        return
    lo, hi = c.speedup_ci
    n = c.a.cpu_time_s.n
    verdict = "an improvement" if c.improved else "NOT a proven improvement"
    console.print(
        f"Speedup of B over A (median CPU time A / B, {n} interleaved runs each): {c.speedup:.3f}x, "
        f"95% bootstrap interval [{lo:.3f}, {hi:.3f}]. B is {verdict} "
        f"(needs the lower bound above {1 + c.min_gain:.2f}).",
        markup=False,
    )
    if c.memory_ratio is not None:
        console.print(f"Peak Python memory B / A: {c.memory_ratio:.3f}", markup=False)
