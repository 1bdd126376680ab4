"""Run the optimizer over a problem set to produce trajectories (the data of SFT, DPO and GRPO).

One trajectory file per task, ``OUT/<task name>.jsonl``. Resumable: a task whose file already has an
``end`` record is skipped; a file without one (an interrupted run) is started again. Tasks run in
parallel threads sharing one backend (the model is loaded once) and one sandbox; with a distributed
executor (``--executor ray``) each task's optimizer run is a unit on a node (`CollectJob`: the node's
warm sandbox, the backend built once per node), and its trajectory comes back to be written here.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from afterburner.errors import AfterburnerError
from afterburner.task import Task
from training.data import load_tasks, validate_tasks

__all__ = ["CollectJob", "CollectReport", "collect", "trajectory_path"]

log = logging.getLogger(__name__)


@dataclass
class CollectReport:
    done: list[str] = field(default_factory=list)  # ran now
    skipped: list[str] = field(default_factory=list)  # already complete (resume)
    failed: list[tuple[str, str]] = field(default_factory=list)  # our error while running
    excluded: list[tuple[str, str]] = field(default_factory=list)  # the task's own code fails its tests
    improved: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.done)} run ({self.improved} improved), {len(self.skipped)} already done, "
            f"{len(self.failed)} failed, {len(self.excluded)} excluded"
        )


def trajectory_path(trajectory_dir: str | Path, task: Task) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", task.name).strip("._") or task.fingerprint()
    return Path(trajectory_dir) / f"{safe}.jsonl"


def _complete(path: Path) -> bool:
    if not path.is_file():
        return False
    from afterburner.trajectory import read_trajectory

    return read_trajectory(path).end is not None


@dataclass(frozen=True)
class CollectJob:
    """The picklable unit of a distributed collect: ``job(task) -> (summary | None, error | None, text)``,
    `text` the trajectory JSONL of the run (None when it failed)."""

    backend: Any  # a backend name (built once per node), or a picklable backend object
    model: str | None
    strategy: str
    options: dict
    sandbox_config: Any = None

    def __call__(self, task: Task) -> tuple[dict | None, str | None, str | None]:
        import afterburner
        from afterburner.executor import node_cached, node_sandbox
        from afterburner.llm import get_backend

        b, model = self.backend, self.model
        llm = (
            node_cached(("collect-backend", b, model), lambda: get_backend(b, model=model))
            if isinstance(b, str)
            else b
        )
        options = {k: v for k, v in self.options.items() if k != "out_dir"}  # run dirs stay on the node
        tmp = tempfile.mkdtemp(prefix="afterburner-collect-")
        try:
            path = os.path.join(tmp, "trajectory.jsonl")
            result = afterburner.optimize(
                task, backend=llm, model=model, strategy=self.strategy, sandbox=node_sandbox(self.sandbox_config),
                trajectory=path, out_dir=os.path.join(tmp, "runs"), **options,
            )  # fmt: skip
            summary = {
                "improved": bool(getattr(result, "improved", False)),
                "stop_reason": getattr(result, "stop_reason", "done"),
                "speedup": getattr(result, "speedup", 1.0),
            }
            with open(path, encoding="utf-8") as f:
                return summary, None, f.read()
        except AfterburnerError as e:
            return None, str(e), None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _collect_distributed(
    executor: Any, job: CollectJob, todo: list[Task], out: Path, report: CollectReport, progress: Any
) -> None:
    for task, (summary, error, text) in zip(todo, executor.map(job, todo), strict=True):
        if error is not None or summary is None:
            report.failed.append((task.name, str(error)))
            log.warning("collect: %s failed: %s", task.name, error)
            if progress:
                progress(task.name, f"failed: {error}")
            continue
        path = trajectory_path(out, task)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text or "", encoding="utf-8")
        tmp.replace(path)
        report.done.append(task.name)
        report.improved += summary["improved"]
        if progress:
            progress(task.name, f"{summary['stop_reason']}, speedup {summary['speedup']:.2f}x")


def collect(
    sources: Sequence[str],
    trajectory_dir: str | Path,
    *,
    limit: int | None = None,
    exclude: Sequence[str] = (),
    split: str | None = None,
    jobs: int = 1,
    backend: Any = "transformers",
    model: str | None = None,
    strategy: str = "default",
    validate: bool = True,
    sandbox: Any = None,
    progress: Callable[[str, str], None] | None = None,
    executor: Any = None,
    **optimize_options: Any,
) -> CollectReport:
    """Optimize every task of `sources` (problem sets, suite dirs, task files), writing trajectories.

    `split`: only that half of a suite in halves (`training.data.in_split`).
    `optimize_options` go to `afterburner.optimize` (rounds, candidates, patience, goal, out_dir, ...).
    `progress(task_name, what)` is called as tasks finish. `executor`: None (or a local one) runs here in
    `jobs` threads; a distributed one (`afterburner.executor`, e.g. Ray) runs each task as a unit on its
    nodes, `backend` given by name (or a picklable object); ``out_dir`` run folders then stay on the nodes.
    """
    from afterburner.llm import get_backend

    out = Path(trajectory_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = CollectReport()
    tasks = load_tasks(sources, limit, exclude, split)
    todo = []
    for task in tasks:
        path = trajectory_path(out, task)
        if _complete(path):
            report.skipped.append(task.name)
        else:
            todo.append(task)
    if not todo:
        return report

    own_sandbox = None
    if sandbox is None:
        from afterburner.sandbox import Sandbox

        own_sandbox = sandbox = Sandbox().__enter__()
    try:
        if validate:
            todo, report.excluded = validate_tasks(todo, sandbox)
        if executor is not None and executor.distributed:
            job = CollectJob(backend, model, strategy, optimize_options, getattr(sandbox, "config", None))
            _collect_distributed(executor, job, todo, out, report, progress)
            return report
        llm = get_backend(backend, model=model) if isinstance(backend, str) else backend
        run = partial(_optimize_one, out, llm, model, strategy, sandbox, optimize_options)
        _collect_local(run, todo, jobs, report, progress)
    finally:
        if own_sandbox is not None:
            own_sandbox.__exit__(None, None, None)
    return report


def _optimize_one(
    out: Path, llm: Any, model: str | None, strategy: str, sandbox: Any, options: dict, task: Task
) -> Any:
    """One task optimized here, its trajectory written afresh (an interrupted run starts again)."""
    import afterburner

    path = trajectory_path(out, task)
    path.unlink(missing_ok=True)
    return afterburner.optimize(
        task, backend=llm, model=model, strategy=strategy, sandbox=sandbox, trajectory=path, **options
    )


def _collect_local(
    run: Callable[[Task], Any],
    todo: list[Task],
    jobs: int,
    report: CollectReport,
    progress: Callable[[str, str], None] | None,
) -> None:
    """`run` over the tasks in `jobs` threads, into `report` as they finish (a failed task is reported)."""
    lock = threading.Lock()
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = {pool.submit(run, t): t for t in todo}
        for future in as_completed(futures):
            task = futures[future]
            try:
                result = future.result()
            except AfterburnerError as e:
                with lock:
                    report.failed.append((task.name, str(e)))
                log.warning("collect: %s failed: %s", task.name, e)
                if progress:
                    progress(task.name, f"failed: {e}")
                continue
            with lock:
                report.done.append(task.name)
                report.improved += bool(getattr(result, "improved", False))
            if progress:
                speedup = getattr(result, "speedup", 1.0)
                progress(task.name, f"{getattr(result, 'stop_reason', 'done')}, speedup {speedup:.2f}x")
