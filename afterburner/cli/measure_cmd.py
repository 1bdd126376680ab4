"""``afterburner measure FILE.py::NAME --tests TESTS [--workload W --sizes ...]``: one candidate's cost.

Checks the code on its tests first, then times it over the workload in the sandbox and prints what
each number is; ``--json`` prints one JSON object (`Measurement.to_dict`) and nothing else on stdout.
Exit code: 0 when the code passed and was measured, 1 when it failed its tests, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from afterburner.errors import TaskError
from afterburner.report import fmt_bytes, fmt_seconds


def add_input_args(p: argparse.ArgumentParser, tests_default: str = "required with FILE.py::NAME") -> None:
    """What a task is made of: a task file, or tests and a workload for FILE.py::NAME."""
    p.add_argument(
        "--task", help="a task file (YAML/JSON) instead of FILE.py::NAME --tests ... (default: none)"
    )
    p.add_argument(
        "--tests", help=f"tests: a .py defining check(candidate), or JSON/YAML cases ({tests_default})"
    )
    p.add_argument(
        "--workload",
        help="timing workload: a .py defining generate(n, seed), or JSON/YAML inputs "
        "(default: timed on the tests' inputs)",
    )
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        help="input sizes for the workload's generate(n, seed) (default: the workload file's SIZES = [...])",
    )


def add_task_args(p: argparse.ArgumentParser) -> None:
    """The options `measure` and `compare` share: the task's inputs, repeats, sandbox limits."""
    add_input_args(p)
    p.add_argument(
        "--repeats", type=int, help="timed runs (default: adaptive, 5 to 30, about 1.5 s of CPU time in all)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="wall-clock limit of one run, seconds (default: %(default)s)",
    )
    p.add_argument(
        "--memory-limit",
        type=int,
        default=4096,
        help="address-space limit of one run, MiB (default: %(default)s)",
    )
    add_sandbox_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")


def add_sandbox_arg(p: argparse.ArgumentParser) -> None:
    """``--sandbox`` (also spelled ``--isolation``): where candidate code runs."""
    p.add_argument(
        "--sandbox",
        "--isolation",
        dest="isolation",
        default="auto",
        choices=("auto", "bwrap", "none", "docker"),
        help="where candidates run: auto (bubblewrap when it works, else resource limits only, with a "
        "warning), bwrap, none, or docker (a warm container per worker; needs dockerd and the image of "
        "`afterburner sandbox build-image`) (default: %(default)s)",
    )


def open_sandbox(args: argparse.Namespace) -> Any:
    """optimize/bench: the `Sandbox` that ``--sandbox`` names, with the limits their own would have
    (``--timeout``, else generous for the original; ``--memory-limit``), closed at exit; None for auto."""
    if getattr(args, "isolation", "auto") == "auto":
        return None
    import atexit

    from afterburner.agent.limits import ORIGINAL_TIMEOUT_S
    from afterburner.sandbox import Sandbox, SandboxConfig

    limits: dict[str, Any] = {"timeout_s": getattr(args, "timeout", None) or ORIGINAL_TIMEOUT_S}
    if getattr(args, "memory_limit", None):
        limits["memory_bytes"] = args.memory_limit << 20
    sb = Sandbox(SandboxConfig(isolation=args.isolation, **limits))
    atexit.register(sb.close)
    return sb


def load_task(target: str | None, args: argparse.Namespace) -> Any:
    from afterburner.task import load_target, load_task_file

    if args.task:
        if target:
            raise TaskError("give either FILE.py::NAME or --task FILE, not both")
        return load_task_file(args.task)
    if not target:
        raise TaskError("nothing to measure: give FILE.py::NAME --tests TESTS (or --task FILE)")
    task = load_target(target, tests=args.tests, workload=args.workload, sizes=args.sizes)
    if not task.has_tests and not task.has_workload:
        raise TaskError("give --tests (and a --workload to time it on): without them there is nothing to run")
    return task


def sandbox_config(args: argparse.Namespace) -> Any:
    from afterburner.sandbox import SandboxConfig

    if args.repeats is not None and args.repeats < 1:
        raise TaskError("--repeats must be at least 1")
    return SandboxConfig(
        timeout_s=args.timeout, memory_bytes=args.memory_limit << 20, isolation=args.isolation
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "measure",
        help="check a function on its tests, then measure its CPU time and memory in the sandbox",
        description="Check, then time a function over its workload (CPU time of the sandboxed child, "
        "repeated), with peak memory, the memory-time integral and a profile.",
    )
    p.add_argument("target", nargs="?", help="path/to/file.py::function (or Class.method, Class().method)")
    add_task_args(p)
    p.add_argument("--profile", action="store_true", help="also print the hot lines and functions")
    p.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions with valgrind --tool=callgrind (slow; deterministic)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from afterburner.sandbox import Sandbox

    task = load_task(args.target, args)
    config = sandbox_config(args)
    with Sandbox(config, workers=1) as sb:
        m = sb.measure(
            task, repeats=args.repeats, profile=args.profile or args.json, instructions=args.instructions
        )
    if args.json:
        out = m.to_dict()
        out["task"] = task.name
        print(json.dumps(out, default=str))
    else:
        print_measurement(task.name, m, profile=args.profile)
    return 0 if m.ok else 1


# ---------------------------------------------------------------- human-readable report
def measurement_lines(m: Any) -> list[tuple[str, str]]:
    """(what, value) rows that say what each number is."""
    rows: list[tuple[str, str]] = [("status", m.status.value)]
    if m.failure is not None:
        rows.append(("first failure", m.failure.short(600)))
    c = m.cpu_time_s
    if c is not None and c.n:
        rows.append(
            (
                f"CPU time, median of {c.n} runs",
                f"{fmt_seconds(c.median)} (IQR {fmt_seconds(c.iqr)}, min {fmt_seconds(c.min)}, "
                f"robust CV {100 * c.cv:.1f}%)",
            )
        )
    w = m.wall_time_s
    if w is not None and w.n:
        rows.append(
            (f"wall time, median of {w.n} runs", f"{fmt_seconds(w.median)} (IQR {fmt_seconds(w.iqr)})")
        )
    if m.peak_memory_bytes is not None:
        rows.append(("peak Python memory (tracemalloc)", fmt_bytes(m.peak_memory_bytes)))
    if m.peak_rss_bytes is not None:
        rows.append(("peak RSS growth, median", fmt_bytes(m.peak_rss_bytes)))
    if m.integral is not None:
        rows.append(("memory-time integral", f"{fmt_bytes(m.integral)}·s (traced memory over CPU time)"))
    if m.instructions is not None:
        rows.append(("instructions (callgrind, Ir)", f"{m.instructions:,}"))
    d = m.details
    if d.get("isolation"):
        rows.append(
            (
                "sandbox",
                f"{d['isolation']}; timed on the {d.get('workload')} "
                f"({_inputs(d.get('n_inputs'))} per run); tests: {d.get('check_mode') or 'cases'}",
            )
        )
    return rows


def _inputs(n: Any) -> str:
    return f"{n} input" if n == 1 else f"{n} inputs"


def print_measurement(name: str, m: Any, profile: bool = False, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=title or f"afterburner measure: {name}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    for what, value in measurement_lines(m):
        table.add_row(what, value)
    console.print(table)
    if profile and m.profile is not None:
        console.print(m.profile.text(), markup=False, highlight=False)
