"""Run the optimizer over a problem set to produce trajectories (the data of SFT, DPO and GRPO).

One trajectory file per task, ``OUT/<task name>.jsonl``. Resumable: a task whose file already has an
``end`` record is skipped; a file without one (an interrupted run) is started again. Tasks run in
parallel threads sharing one backend (the model is loaded once) and one sandbox.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from afterburner.errors import AfterburnerError
from afterburner.task import Task
from training.data import load_tasks, validate_tasks

__all__ = ["CollectReport", "collect", "trajectory_path"]

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


def collect(
    sources: Sequence[str],
    trajectory_dir: str | Path,
    *,
    limit: int | None = None,
    exclude: Sequence[str] = (),
    jobs: int = 1,
    backend: Any = "transformers",
    model: str | None = None,
    strategy: str = "default",
    validate: bool = True,
    sandbox: Any = None,
    progress: Callable[[str, str], None] | None = None,
    **optimize_options: Any,
) -> CollectReport:
    """Optimize every task of `sources` (problem sets, suite dirs, task files), writing trajectories.

    `optimize_options` go to `afterburner.optimize` (rounds, candidates, patience, goal, out_dir, ...).
    `progress(task_name, what)` is called as tasks finish.
    """
    import afterburner
    from afterburner.llm import get_backend

    out = Path(trajectory_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = CollectReport()
    tasks = load_tasks(sources, limit, exclude)
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
        llm = get_backend(backend, model=model) if isinstance(backend, str) else backend
        lock = threading.Lock()

        def run(task: Task) -> tuple[Task, Any]:
            path = trajectory_path(out, task)
            path.unlink(missing_ok=True)  # an interrupted run starts again
            result = afterburner.optimize(
                task,
                backend=llm,
                model=model,
                strategy=strategy,
                sandbox=sandbox,
                trajectory=path,
                **optimize_options,
            )
            return task, result

        with ThreadPoolExecutor(max(1, jobs)) as pool:
            futures = {pool.submit(run, t): t for t in todo}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    _, result = future.result()
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
                    progress(
                        task.name,
                        f"{getattr(result, 'stop_reason', 'done')}, speedup {getattr(result, 'speedup', 1.0):.2f}x",
                    )
    finally:
        if own_sandbox is not None:
            own_sandbox.__exit__(None, None, None)
    return report
