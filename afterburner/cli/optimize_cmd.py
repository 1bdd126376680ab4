"""``afterburner optimize FILE.py::NAME --tests TESTS [...]``: the loop from the command line.

Progress goes to stderr (rich); the summary table and the diff to stdout, or with ``--json`` one JSON
object and nothing else on stdout. ``--in-place`` replaces the file atomically and keeps a backup;
``--out`` refuses to overwrite an existing file unless ``--force``.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from afterburner.cli.measure_cmd import add_limit_args, add_sandbox_arg, open_sandbox
from afterburner.errors import ConfigError, TaskError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "optimize",
        help="make a function faster with a language model, and prove it",
        description="Generate, test and measure faster versions of a function; keep only proven gains.",
    )
    p.add_argument("target", nargs="?", help="path/to/file.py::function (or Class.method, Class().method)")
    p.add_argument("--task", help="a task file (YAML/JSON) instead of FILE::NAME")
    p.add_argument("--tests", help="tests: a .py defining check(candidate), or JSON/YAML cases")
    p.add_argument(
        "--workload", help="timing workload: a .py defining generate(n, seed), or JSON/YAML inputs"
    )
    p.add_argument("--sizes", type=int, nargs="+", help="input sizes for the workload's generate(n, seed)")
    p.add_argument("--description", default="", help="the problem statement, if any (shown to the model)")
    p.add_argument("--model", help="model id, directory, GGUF file or adapter (default: the backend's)")
    p.add_argument(
        "--backend", default="transformers", help="transformers, vllm, openai, scripted or pkg.mod:Class"
    )
    p.add_argument("--strategy", default="default", choices=("default", "afterburner", "baseline"))
    p.add_argument("--rounds", type=int, help="maximum rounds (default: the strategy's, 4)")
    p.add_argument("--candidates", type=int, help="candidates per round (default: the strategy's)")
    p.add_argument(
        "--patience", type=int, default=2, help="stop after P rounds whose correct new code was not faster"
    )
    p.add_argument("--goal", default="time", choices=("time", "memory", "both"))
    p.add_argument("--target-speedup", type=float, help="stop once the best is this many times faster")
    p.add_argument("--time-budget", type=float, help="stop after this many seconds of work")
    p.add_argument("--token-budget", type=int, help="stop after this many tokens (prompt + completions)")
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--seed", type=int)
    p.add_argument("--repeats", type=int, help="measurement repeats (default: the sandbox's)")
    p.add_argument(
        "--rewrites",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also try mechanical rewrites in round 1 (functools.cache, hoisting, numba.njit); "
        "default: on for the default strategy, off for afterburner and baseline",
    )
    add_limit_args(p)
    add_sandbox_arg(p)
    p.add_argument("--replies", help="scripted backend: a JSON/YAML file of replies (same as --model)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--out", help="write the best code to this file")
    out.add_argument("--in-place", action="store_true", help="replace the source file (a backup is kept)")
    p.add_argument("--force", action="store_true", help="let --out overwrite an existing file")
    p.add_argument("--report", help="write a Markdown report with a plot into this directory")
    p.add_argument("--out-dir", default="afterburner-runs", help="where runs live (trajectory, checkpoints)")
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")
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


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_in_place(path: Path, new_code: str) -> Path:
    """Back the file up (``FILE.orig``, or timestamped if that exists), then replace it atomically."""
    backup = path.with_name(path.name + ".orig")
    if backup.exists():
        backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.orig")
    _atomic_write(backup, path.read_text(encoding="utf-8"))
    _atomic_write(path, new_code)
    return backup


class _Progress:
    """A one-line live status on stderr: round, candidates passing, best speedup so far."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.status = None
        self.round, self.done, self.passing, self.k, self.best = 0, 0, 0, 0, 1.0

    def _text(self) -> str:
        return (
            f"round {self.round}: {self.done}/{self.k} candidates evaluated, {self.passing} passing; "
            f"best so far ~{self.best:.2f}x"
        )

    def __call__(self, name: str, data: dict) -> None:
        if name == "round_started":
            self.round, self.k, self.done, self.passing = data["round"], data["candidates"], 0, 0
            self.best = data.get("best_speedup") or self.best
        elif name == "candidate_evaluated" and data.get("origin", "model") == "model":  # rewrites aside
            self.done += 1
            self.passing += data.get("status") == "passed"
        elif name == "best_improved":
            self.best = data.get("best_speedup") or self.best
            self.console.print(
                f"[green]round {data['round']}: new best, ~{self.best:.2f}x the original[/green]"
            )
        elif name == "finished":
            self.stop()
            return
        if self.enabled:
            if self.status is None:
                self.status = self.console.status(self._text())
                self.status.start()
            else:
                self.status.update(self._text())
        elif name == "round_started":
            self.console.print(f"round {self.round}: generating {self.k} candidates")

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def run(args: argparse.Namespace) -> int:
    from afterburner.agent.optimizer import Optimizer
    from afterburner.report import summary_table, write_report

    task = _load_task(args)
    _check_outputs(args, task)
    source = Path(task.source_path) if task is not None and task.source_path else None
    for target in (source, Path(args.out) if args.out else None):
        if target is not None and target.parent.is_dir():
            remove_stale_tmp(target)  # left by an interrupted --in-place or --out write
    model = args.model
    if args.replies:
        if args.backend != "scripted":
            raise ConfigError("--replies is for --backend scripted")
        model = args.replies
    opt = Optimizer(
        backend=args.backend,
        model=model,
        strategy=args.strategy,
        rounds=args.rounds,
        candidates=args.candidates,
        patience=args.patience,
        goal=args.goal,
        target_speedup=args.target_speedup,
        time_budget=args.time_budget,
        token_budget=args.token_budget,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        seed=args.seed,
        repeats=args.repeats,
        sandbox=open_sandbox(args),
        timeout=args.timeout,
        memory_limit=args.memory_limit,
        rewrites=args.rewrites,
        out_dir=args.out_dir,
    )
    progress = _Progress(enabled=True)
    try:
        result = opt.run(task, on_event=progress, resume=args.resume)
    finally:
        progress.stop()
    task = result.task
    if args.in_place and not task.source_path:
        raise ConfigError("--in-place needs a FILE.py::NAME target (the task has no source file)")
    written = None
    if result.best_code != result.original_code:
        if args.in_place:
            backup = write_in_place(Path(task.source_path), result.best_code)
            written = {"path": task.source_path, "backup": str(backup)}
        elif args.out:
            _atomic_write(Path(args.out), result.best_code)
            written = {"path": args.out}
    elif args.out:  # unchanged: still give the user the file they asked for
        _atomic_write(Path(args.out), result.best_code)
        written = {"path": args.out}
    report_path = write_report(result, args.report) if args.report else None

    if args.json:
        payload = result.to_dict()
        payload.update(
            trajectory=result.trajectory_path,
            written=written,
            report=str(report_path) if report_path else None,
        )
        print(json.dumps(_finite(payload)))
    else:
        from rich.console import Console

        out = Console()
        out.print(summary_table(result))
        diff = result.diff()
        if diff:
            sys.stdout.write(diff if diff.endswith("\n") else diff + "\n")
        else:
            out.print("No proven improvement: the original code is unchanged.")
        if written:
            out.print(
                f"wrote {written['path']}"
                + (f" (backup: {written['backup']})" if "backup" in written else "")
            )
        if report_path:
            out.print(f"report: {report_path}")
        out.print(f"run {result.run_id}: trajectory {result.trajectory_path}")
    return 130 if result.status == "interrupted" else 0


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
