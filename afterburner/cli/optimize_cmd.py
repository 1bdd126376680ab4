"""``afterburner optimize FILE.py::NAME --tests TESTS [...]``: the loop from the command line.

Progress goes to stderr (`afterburner.progress`: each candidate's verdict as it lands, the tokens and
the measurement in progress); the summary table, the diff and where the best code is to stdout, or with
``--json`` one JSON object and nothing else on stdout. ``--in-place`` replaces the file atomically and keeps a backup;
``--out`` refuses to overwrite an existing file unless ``--force``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from afterburner.cli.measure_cmd import add_input_args, add_sandbox_arg, open_sandbox
from afterburner.cli.options import add_renamed, add_settings_args, settings_from_args
from afterburner.errors import ConfigError, TaskError
from afterburner.project import atomic_write
from afterburner.trajectory import json_safe


def register(subparsers: argparse._SubParsersAction) -> None:
    from afterburner.agent.optimizer import DEFAULT_OUT_DIR
    from afterburner.agent.strategies import STRATEGIES
    from afterburner.llm.base import DEFAULT_MODEL

    p = subparsers.add_parser(
        "optimize",
        help="make a function faster with a language model, and prove it",
        description="Generate, test and measure faster versions of a function; keep only proven gains. "
        "Progress (each candidate's verdict, tokens, measurements) goes to stderr; the summary and the diff "
        "to stdout.",
    )
    p.add_argument("target", nargs="?", help="path/to/file.py::function (or Class.method, Class().method)")
    add_input_args(
        p,
        tests_default="default inside a project: the project's pytest tests that call the target, their "
        "calls recorded as the oracle",
    )
    p.add_argument(
        "--description", default="", help="the problem statement, shown to the model (default: none)"
    )
    p.add_argument(
        "--model",
        help=f"model id, directory, GGUF file or adapter (default: the backend's; {DEFAULT_MODEL} for "
        "transformers)",
    )
    p.add_argument(
        "--backend",
        default="transformers",
        help="transformers, vllm, openai, scripted or pkg.mod:Class (default: %(default)s)",
    )
    p.add_argument(
        "--strategy",
        default="default",
        choices=tuple(STRATEGIES),
        help="default: ours (k candidates per round, half written from the problem statement, profile and "
        "remedy feedback, significant gains only, patience); afterburner: the paper's loop (one candidate "
        "per round, one-line feedback, greedy); baseline: best of rounds x candidates samples in one round, "
        "no feedback (default: %(default)s)",
    )
    add_settings_args(p)  # --rounds ... --memory-limit: one flag per field of afterburner.settings.Settings
    add_sandbox_arg(p)
    p.add_argument(
        "--replies", help="scripted backend: a JSON/YAML file of replies, same as --model (default: none)"
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument(
        "--out",
        metavar="FILE",
        help="write the best code (the whole module) to this file (default: none; it is always saved as "
        "RUN_DIR/best.py)",
    )
    out.add_argument(
        "--in-place", action="store_true", help="replace the source file with the best code (FILE.orig keeps "
        "the original)"
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="let --out overwrite an existing file")
    p.add_argument(
        "--report",
        metavar="DIR",
        help="write a Markdown report with a plot into this folder (default: no report)",
    )
    p.add_argument(
        "--runs-dir",
        default=DEFAULT_OUT_DIR,
        metavar="DIR",
        help="the folder of runs: RUN_ID/ holds trajectory.jsonl, checkpoints.sqlite, run.json and best.py "
        "(default: %(default)s)",
    )
    add_renamed(p, "--out-dir", "--runs-dir", dest="runs_dir")
    p.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="continue an interrupted run, found in --runs-dir (default: start a new run)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")
    p.add_argument("--no-progress", action="store_true", help="print no progress on stderr")
    from afterburner.cli.zeroconfig import add_project_args

    add_project_args(p)  # no --tests (the project's are discovered), --trace, --diff, --git-branch
    p.set_defaults(func=run)


def _load_task(args: argparse.Namespace) -> Any:
    from afterburner.task import load_target, load_task_file

    if args.task and args.target:
        raise ConfigError("give either FILE.py::NAME or --task FILE, not both")
    if args.task:
        return load_task_file(args.task)
    if args.target:
        if not args.tests:
            raise TaskError("--tests is required: the optimizer only keeps code that passes them")
        return load_target(
            args.target,
            tests=args.tests,
            workload=args.workload,
            sizes=args.sizes,
            description=args.description,
        )
    if args.resume:
        return None  # read from the run's run.json
    raise TaskError(
        "nothing to optimize: give FILE.py::NAME --tests TESTS, or --task FILE, or --resume RUN_ID"
    )


def _check_outputs(args: argparse.Namespace, task: Any) -> None:
    if args.out and Path(args.out).exists() and not args.force:
        raise ConfigError(f"{args.out} exists: choose another --out, or add --force to overwrite it")
    if args.in_place and task is not None and not task.source_path:
        raise ConfigError("--in-place needs a FILE.py::NAME target (the task has no source file)")
    if getattr(args, "git_branch", None) and task is not None and task.source_path:
        from afterburner.project import require_clean

        require_clean([Path(task.source_path)], args.git_branch)


def remove_stale_tmp(path: Path) -> list[Path]:
    """Remove the ``.FILE.PID.*.tmp`` files that an interrupted write of `path` left (their writer is
    gone; a name without a pid, from an older version, once it is a minute old). Returns them."""
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        try:
            if pid.isdigit():
                try:
                    os.kill(int(pid), 0)
                    continue  # its writer still runs
                except ProcessLookupError:
                    pass
                except PermissionError:
                    continue
            elif time.time() - tmp.stat().st_mtime < 60:
                continue
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            continue
    return removed


def write_in_place(path: Path, new_code: str) -> Path:
    """Back the file up (``FILE.orig``, or timestamped if that exists), then replace it atomically."""
    backup = path.with_name(path.name + ".orig")
    if backup.exists():
        backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.orig")
    atomic_write(backup, path.read_text(encoding="utf-8"))
    atomic_write(path, new_code)
    return backup


def optimizer_from_args(args: argparse.Namespace, sandbox: Any) -> Any:
    """The `Optimizer` the options ask for (the classic path and the project path alike)."""
    from afterburner.agent.optimizer import Optimizer

    model = args.model
    if args.replies:
        if args.backend != "scripted":
            raise ConfigError("--replies is for --backend scripted")
        model = args.replies
    return Optimizer(
        backend=args.backend,
        model=model,
        strategy=args.strategy,
        settings=settings_from_args(args),
        sandbox=sandbox,
        out_dir=args.runs_dir,
    )


def run(args: argparse.Namespace) -> int:
    from afterburner.report import summary_table, write_report

    if getattr(args, "trace", None) or (args.target and not args.tests and not args.task):
        from afterburner.cli.zeroconfig import run_project, run_traced  # inside a project: no --tests

        return run_traced(args) if args.trace else run_project(args)
    task = _load_task(args)
    _check_outputs(args, task)
    source = Path(task.source_path) if task is not None and task.source_path else None
    for target in (source, Path(args.out) if args.out else None):
        if target is not None and target.parent.is_dir():
            remove_stale_tmp(target)  # left by an interrupted --in-place or --out write
    opt = optimizer_from_args(args, open_sandbox(args))
    from afterburner.progress import ProgressDisplay

    with ProgressDisplay() as display:
        result = opt.run(task, on_event=None if args.no_progress else display, resume=args.resume)
    task = result.task
    if args.in_place and not task.source_path:
        raise ConfigError("--in-place needs a FILE.py::NAME target (the task has no source file)")
    written = None
    if result.best_code != result.original_code:
        if args.in_place:
            backup = write_in_place(Path(task.source_path), result.best_code)
            written = {"path": task.source_path, "backup": str(backup)}
        elif args.out:
            atomic_write(Path(args.out), result.best_code)
            written = {"path": args.out}
    elif args.out:  # unchanged: still give the user the file they asked for
        atomic_write(Path(args.out), result.best_code)
        written = {"path": args.out}
    report_path = write_report(result, args.report) if args.report else None
    if getattr(args, "diff", False) or getattr(args, "git_branch", None):
        from afterburner.cli.zeroconfig import report_change

        change = (
            [(Path(task.source_path), result.original_code, result.best_code)] if task.source_path else []
        )
        return report_change(args, result, change, write=False)

    if args.json:
        payload = result.to_dict()
        payload.update(
            trajectory=result.trajectory_path,
            written=written,
            report=str(report_path) if report_path else None,
        )
        print(json.dumps(json_safe(payload)))
    else:
        from rich.console import Console

        out = Console()
        out.print(summary_table(result))
        diff = result.diff()
        if diff:
            sys.stdout.write(diff if diff.endswith("\n") else diff + "\n")
        else:
            out.print("No proven improvement: the original code is unchanged.")
        source = Path(task.source_path) if task.source_path else None
        for line in where_the_code_went(result, written, report_path, source):
            print(line)
    return 130 if result.status == "interrupted" else 0


def _shown(path: str | Path) -> str:
    """A path as the user would type it: relative to the working directory when it is below it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def where_the_code_went(
    result: Any, written: dict | None, report: Path | None, source: Path | None = None
) -> list[str]:
    """The closing lines: where the best code is and how to get it, the report, the run's folder (each
    path on a line of its own, so a terminal never wraps one in the middle)."""
    lines = []
    changed = result.best_code != result.original_code
    if written:
        backup = f" (the original: {_shown(written['backup'])})" if "backup" in written else ""
        lines.append(f"wrote the best code to {_shown(written['path'])}{backup}")
    elif changed and result.best_path:
        lines += [
            "the best code (the whole module) is saved in the run's folder:",
            f"  {_shown(result.best_path)}",
            "next time, write it where you want with --out FILE, or over the source with --in-place"
            + (f" (replaces {_shown(source)}, keeps {_shown(source)}.orig)" if source else ""),
        ]
    if report:
        lines.append(f"report: {_shown(report)}")
    if result.run_dir:
        more = f"; continue it with --resume {result.run_id}" if result.status == "interrupted" else ""
        lines += [
            f"run {result.run_id} (its trajectory, checkpoints and best.py{more}):",
            f"  {_shown(result.run_dir)}",
        ]
    return lines
