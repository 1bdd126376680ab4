"""``afterburner optimize``'s project options: FILE.py::NAME with no ``--tests`` (the project's tests are
discovered and recorded, `afterburner.zeroconfig`), ``--trace FILE`` (a recorded command,
`afterburner.tracing`), and the result as a change (``--diff``, ``--git-branch``, `afterburner.project`).

Not a subcommand of its own: `optimize_cmd` adds these options and hands such runs over to `run_project`
and `run_traced`. Progress and findings go to stderr; stdout holds the summary and the diff (with
``--diff``, the diff alone, so ``> change.patch`` gives a file ``git apply`` takes).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

from afterburner.cli.optimize_cmd import optimizer_from_args
from afterburner.errors import ConfigError, TaskError
from afterburner.trajectory import json_safe

__all__ = ["add_project_args", "report_change", "run_project", "run_traced"]


def add_project_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inside a project (no --tests: its pytest suite is discovered and recorded)")
    g.add_argument(
        "--diff", action="store_true", help="print the change as a unified diff alone (git apply takes it)"
    )
    g.add_argument(
        "--git-branch",
        metavar="NAME",
        help="commit the change on a new branch NAME; the work tree is untouched (default: no commit)",
    )
    g.add_argument(
        "--trace",
        metavar="FILE",
        help="optimize the top functions of a trace written by `afterburner trace -- CMD` (default: none)",
    )
    g.add_argument(
        "--top", type=int, default=3, help="with --trace: how many of its top functions (default: 3)"
    )
    g.add_argument(
        "--pytest-args",
        default="",
        help="arguments of the discovery run of pytest, e.g. 'tests/unit -k parse' (default: none, the "
        "project's own pytest configuration)",
    )
    g.add_argument(
        "--timing-calls", type=int, default=5, help="time the K costliest recorded calls (default: 5)"
    )


def make_sandbox(args: argparse.Namespace, readonly: tuple[str, ...]) -> Any:
    """The sandbox of a project run: the project bound read-only, limits as the loop's own would be."""
    from afterburner.agent.limits import ORIGINAL_TIMEOUT_S
    from afterburner.sandbox import Sandbox, SandboxConfig

    if getattr(args, "isolation", "auto") == "docker":  # its containers bind no readonly_paths yet
        raise ConfigError("--sandbox docker cannot see a project's files yet: use --sandbox auto or bwrap")
    limits: dict[str, Any] = {"timeout_s": getattr(args, "timeout", None) or ORIGINAL_TIMEOUT_S}
    if getattr(args, "memory_limit", None):
        limits["memory_bytes"] = args.memory_limit << 20
    return Sandbox(
        SandboxConfig(isolation=getattr(args, "isolation", "auto"), readonly_paths=readonly, **limits)
    )


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _check_args(args: argparse.Namespace) -> None:
    if args.workload or args.sizes:
        raise TaskError("--workload needs --tests; give neither, and the project's tests give both")
    if args.resume:
        raise ConfigError(
            "--resume continues runs with --tests or --task; run the project target again instead"
        )
    if args.out and args.git_branch:
        raise ConfigError("give --out or --git-branch, not both")


def run_project(args: argparse.Namespace) -> int:
    """FILE.py::NAME inside a project, no --tests: discover, record, verify, optimize, write the change."""
    from afterburner.project import require_clean
    from afterburner.zeroconfig import prepare_project_task

    _check_args(args)
    path = Path(args.target.rsplit("::", 1)[0])
    if args.git_branch and path.is_file():
        require_clean([path.resolve()], args.git_branch)  # before the work, not after it
    pt = prepare_project_task(
        args.target,
        lambda ro: make_sandbox(args, ro),
        shlex.split(args.pytest_args or ""),
        args.timing_calls,
        _say,
    )
    try:
        from afterburner.progress import ProgressDisplay

        opt = optimizer_from_args(args, pt.sandbox)
        with ProgressDisplay() as display:
            result = opt.run(pt.task, on_event=None if args.no_progress else display)
    finally:
        pt.sandbox.close()
    found = pt.found
    facts = (
        f"Verified on {len(found.calls)} distinct calls recorded from {len(pt.tests)} test(s) of the project, "
        f"compared as data (return value or exception, and the arguments after each call); "
        f"{len(pt.gate_tests)} discovered test(s) pass with the new code in the sandbox. Timed on the "
        f"{len(found.timing)} costliest recorded call(s), {found.repeats}x per run."
    )
    discovery = {
        "root": str(pt.root),
        "tests": pt.tests,
        "gate_tests": pt.gate_tests,
        "recorded_calls": len(found.calls),
        "timing_calls": [c.text for c in found.timing],
        "timing_repeats": found.repeats,
        "coverage_timing": found.coverage_timing,
        "coverage_all": found.coverage_all,
    }
    return report_change(
        args, result, [(path.resolve(), result.original_code, result.best_code)], facts, discovery
    )


def _speedup_line(speedup: float, ci: tuple[float, float], improved: bool) -> str:
    lo, hi = ci
    interval = f" (95% interval {lo:.2f}-{hi:.2f}x)" if math.isfinite(lo) and math.isfinite(hi) else ""
    sig = "" if improved else ", not significant"
    return f"{speedup:.2f}x faster{interval}{sig}"


def commit_message(
    target: str, speedup: float, ci: tuple[float, float], improved: bool, facts: str, run: str
) -> str:
    def n(m: Any) -> str:
        stats = getattr(m, "cpu_time_s", None)
        return f"{stats.median * 1e3:.3g} ms (median of {stats.n})" if stats and stats.n else "n/a"

    return (
        f"Speed up {target}: {_speedup_line(speedup, ci, improved)}\n\n"
        f"CPU time, original and new interleaved in one sandboxed run (speedup = ratio of medians, 95% "
        f"bootstrap interval). {facts}\n\nMade by afterburner, run {run}.\n"
    )


def report_change(
    args: argparse.Namespace,
    result: Any,
    changes: list[tuple[Path, str, str]],
    facts: str = "",
    extra: dict | None = None,
    write: bool = True,
) -> int:
    """Print the summary and write the change as asked (--diff, --git-branch; with `write`, also
    --in-place and --out, which the classic path has written already)."""
    from rich.console import Console

    from afterburner.project import atomic_write, commit_on_branch, unified_diff, write_in_place
    from afterburner.report import summary_table

    changes = [c for c in changes if c[1] != c[2]]
    changed = result.status == "improved" and bool(changes)
    written: dict[str, Any] = {}
    if changed and write and args.in_place:
        written["backups"] = [[str(p), str(b)] for p, b in write_in_place(changes)]
    if changed and write and args.out:
        atomic_write(Path(args.out), changes[0][2])
        written["out"] = args.out
    target = args.target or (changes[0][0].name if changes else "")
    if changed and args.git_branch:
        msg = commit_message(target, result.speedup, result.speedup_ci, result.improved, facts, result.run_id)
        written["branch"] = args.git_branch
        written["commit"] = commit_on_branch(changes, args.git_branch, msg)
    diff = unified_diff(changes) if changed else ""
    if args.json:
        payload = result.to_dict()
        payload.update(trajectory=result.trajectory_path, written=written or None, diff=diff, **(extra or {}))
        print(json.dumps(json_safe(payload)))
        return 130 if result.status == "interrupted" else 0
    console = Console(stderr=bool(args.diff))
    console.print(summary_table(result))
    if diff:
        sys.stdout.write(diff)
    elif not changed:
        console.print("No proven improvement: the project is unchanged.")
    say = console.print
    for path, backup in written.get("backups", []):
        say(f"wrote {path} (backup: {backup})")
    if "out" in written:
        say(f"wrote {written['out']}")
    if "branch" in written:
        say(
            f"committed on branch {written['branch']} ({written['commit'][:10]}; your work tree is untouched): "
            f"git switch {written['branch']}, or git merge {written['branch']}"
        )
    elif args.git_branch:
        say(f"no branch {args.git_branch} was made: there is no change to commit")
    say(f"run {result.run_id}: trajectory {result.trajectory_path}")
    return 130 if result.status == "interrupted" else 0


def run_traced(args: argparse.Namespace) -> int:
    """``optimize --trace FILE [--top K]``: the trace's top functions, one after another, then the
    traced command again with the new code (same output, CPU time compared)."""
    from afterburner.tracing import optimize_trace

    _check_args(args)
    if args.target or args.task or args.tests:
        raise ConfigError("--trace FILE names the functions itself: give no FILE.py::NAME, --task or --tests")
    if args.top < 1:
        raise ConfigError(f"--top must be at least 1, got {args.top}")
    outcome = optimize_trace(
        args.trace,
        top=args.top,
        optimizer=lambda sb: optimizer_from_args(args, sb),
        open_sandbox=lambda ro: make_sandbox(args, ro),
        timing_calls=args.timing_calls,
        repeats=args.repeats,
        say=_say,
    )
    return report_trace(args, outcome)


def report_trace(args: argparse.Namespace, outcome: Any) -> int:
    from afterburner.project import commit_on_branch, unified_diff, write_in_place

    e2e = outcome.end_to_end
    changes = outcome.changes if (outcome.changes and e2e is not None and e2e.output_same) else []
    facts = outcome.facts()
    written: dict[str, Any] = {}
    if changes and args.in_place:
        written["backups"] = [[str(p), str(b)] for p, b in write_in_place(changes)]
    if changes and args.git_branch:
        msg = commit_message(
            f"`{outcome.command}`", e2e.speedup, e2e.ci, e2e.significant, facts, ", ".join(outcome.run_ids)
        )
        written["branch"], written["commit"] = (
            args.git_branch,
            commit_on_branch(changes, args.git_branch, msg),
        )
    diff = unified_diff(changes)
    if args.json:
        print(json.dumps(json_safe({**outcome.to_dict(), "diff": diff, "written": written or None})))
        return 0 if e2e is None or e2e.output_same else 1
    out = sys.stderr if args.diff else sys.stdout
    for line in outcome.lines():
        print(line, file=out)
    if diff:
        sys.stdout.write(diff)
    for path, backup in written.get("backups", []):
        print(f"wrote {path} (backup: {backup})", file=out)
    if "branch" in written:
        print(
            f"committed on branch {written['branch']} ({written['commit'][:10]}; your work tree is untouched)",
            file=out,
        )
    if e2e is not None and not e2e.output_same:
        return 1
    return 0
