"""A benchmark suite: the tasks of a folder of task files, or of one JSONL(.gz) file.

A JSONL line is either a task in the task-file layout (it has ``name`` and ``entry_point``) or a row of
a problem set (LeetCodeDataset, HumanEval+, MBPP+, see `afterburner.task.load_problem_set`); problem-set
tasks are from-description by default (no starting code: the model writes the first version).

A broken task (unparsable, a missing key, ...) does not stop the suite: it is kept in `Suite.broken` with
what is wrong, and the other tasks still load. Whether a task's tests pass on its own starting code needs
the sandbox: `validate_suite` checks that, and the benchmark runner calls it before it runs anything.

A suite may come in halves: each task file's ``metadata.split`` is ``train`` or ``test`` (the real suite);
`Suite.half` keeps one of them, so that training and judging never share a task.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from afterburner.errors import AfterburnerError, TaskError

# the problem-set row converter, for reporting one bad row without losing the rest of the set
from afterburner.task import Task, load_problem_set, load_task_file, task_from_row

__all__ = ["SPLITS", "BrokenTask", "Suite", "load_suite", "task_split", "validate_suite"]

TASK_SUFFIXES = (".yaml", ".yml", ".json")
SPLITS = ("train", "test")  # the halves a task's metadata.split names


def task_split(task: Task) -> str | None:
    """The half of its suite a task belongs to (``metadata.split``), or None for a suite without halves."""
    split = task.metadata.get("split") if isinstance(task.metadata, dict) else None
    return str(split) if split is not None else None


@dataclass(frozen=True)
class BrokenTask:
    """A task that cannot run: where it came from and what is wrong, in one line."""

    where: str  # a file, or "file:line"
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class Suite:
    name: str
    path: str
    tasks: tuple[Task, ...] = ()
    broken: tuple[BrokenTask, ...] = ()
    metadata: dict = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # task name -> its file (or file:line)

    def origin(self, task: Task) -> str:
        return self.origins.get(task.name) or task.source_path or task.name

    def limited(self, limit: int | None) -> Suite:
        return self if limit is None else replace(self, tasks=self.tasks[:limit])

    def half(self, split: str) -> Suite:
        """Only the tasks of one half (``train`` or ``test``, their ``metadata.split``); an error for a
        suite that has no halves, so that ``--split test`` never silently judges on every task."""
        if split not in SPLITS:
            raise TaskError(f"split {split!r} is not one of {', '.join(SPLITS)}")
        if not any(task_split(t) for t in self.tasks):
            raise TaskError(f"suite {self.path!r} has no train/test split (no task has metadata.split)")
        kept = tuple(t for t in self.tasks if task_split(t) == split)
        return replace(self, name=f"{self.name}-{split}", tasks=kept)

    def shard(self, index: int, count: int) -> Suite:
        """Every `count`-th task from the `index`-th (0-based): one of `count` disjoint parts."""
        return replace(self, tasks=self.tasks[index::count])


def load_suite(
    path: str | Path, limit: int | None = None, with_solution: bool = False, split: str | None = None
) -> Suite:
    """Load a suite from a folder of task files (sorted by name) or a JSONL(.gz) file.

    `limit` keeps the first N good tasks (of the half, with `split`); `with_solution` makes problem-set
    tasks start from their reference solution instead of from the description; `split` keeps one half
    (`Suite.half`).
    """
    p = Path(path)
    if not p.exists():
        raise TaskError(f"suite {str(p)!r} does not exist: give a folder of task files or a .jsonl(.gz) file")
    if limit is not None and limit < 1:
        raise TaskError(f"--limit must be at least 1 (got {limit})")
    if split is not None:
        return load_suite(p, None, with_solution).half(split).limited(limit)
    if p.is_dir():
        return _load_folder(p, limit)
    if p.name.endswith((".jsonl", ".jsonl.gz")):
        return _load_jsonl(p, limit, with_solution)
    if p.suffix in TASK_SUFFIXES:  # one task file is a suite of one
        return _load_files(p.stem, p, [p], limit)
    raise TaskError(f"suite {str(p)!r} must be a folder of .yaml/.json task files or a .jsonl(.gz) file")


def _suite_name(p: Path) -> str:
    name = p.name
    for suffix in (".gz", ".jsonl"):
        name = name.removesuffix(suffix)
    return name


def _load_folder(p: Path, limit: int | None) -> Suite:
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in TASK_SUFFIXES)
    if not files:
        raise TaskError(f"suite folder {str(p)!r} has no task files (.yaml, .yml, .json)")
    return _load_files(p.name, p, files, limit)


def _load_files(name: str, p: Path, files: list[Path], limit: int | None) -> Suite:
    tasks: list[Task] = []
    broken: list[BrokenTask] = []
    origins: dict[str, str] = {}
    for f in files:
        if limit is not None and len(tasks) >= limit:
            break
        try:
            tasks.append(load_task_file(f))
            origins.setdefault(tasks[-1].name, str(f))
        except AfterburnerError as e:
            broken.append(BrokenTask(str(f), _strip_where(str(e), str(f))))
    return Suite(name, str(p), tuple(_dedupe(tasks, broken)), tuple(broken), origins=origins)


def _load_jsonl(p: Path, limit: int | None, with_solution: bool) -> Suite:
    meta = {"from_description": False}
    first = _first_row(p)
    if not (isinstance(first, dict) and "name" in first and "task_id" not in first):
        meta["from_description"] = not with_solution
        try:  # a whole problem set, through its loader
            tasks = load_problem_set(p, limit=limit, with_solution=with_solution)
            return Suite(_suite_name(p), str(p), tuple(_dedupe(tasks, broken := [])), tuple(broken), meta)
        except TaskError:
            pass  # a bad row somewhere: load line by line to report it and keep the others
    tasks: list[Task] = []
    broken: list[BrokenTask] = []
    for lineno, line in _lines(p):
        if limit is not None and len(tasks) >= limit:
            break
        where = f"{p}:{lineno}"
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise TaskError("the line is not a JSON object")
            if "name" in row and "task_id" not in row:
                tasks.append(Task.from_dict(row, where="task"))
            else:
                tasks.append(task_from_row(row, with_solution=with_solution))
        except json.JSONDecodeError as e:
            broken.append(BrokenTask(where, f"not valid JSON: {e}"))
        except KeyError as e:
            broken.append(BrokenTask(where, f"missing key {e}"))
        except (AfterburnerError, TypeError, ValueError) as e:
            broken.append(BrokenTask(where, str(e).removeprefix("task: ")))
    return Suite(_suite_name(p), str(p), tuple(_dedupe(tasks, broken)), tuple(broken), meta)


def _lines(p: Path) -> Iterator[tuple[int, str]]:
    opener: Any = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    yield lineno, line
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise TaskError(f"suite {str(p)!r} cannot be read: {e}") from None


def _first_row(p: Path) -> Any:
    line = next((line for _, line in _lines(p)), None)
    if line is None:
        raise TaskError(f"suite {str(p)!r} is empty")
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def _dedupe(tasks: list[Task], broken: list[BrokenTask]) -> list[Task]:
    """Task names key the results (and resumption): a repeated name is reported and skipped."""
    seen: set[str] = set()
    out = []
    for t in tasks:
        if t.name in seen:
            broken.append(BrokenTask(t.source_path or t.name, f"a second task named {t.name!r} (skipped)"))
            continue
        seen.add(t.name)
        out.append(t)
    return out


def _strip_where(message: str, where: str) -> str:
    prefix = f"task file {where!r}"
    return message.removeprefix(prefix).lstrip(": ").strip() or message


def validate_suite(suite: Suite, sandbox: Any) -> Suite:
    """Move to `broken` every task whose tests fail on its own starting code (or, for a
    from-description task, on its reference solution), or that has no tests at all."""
    good: list[Task] = []
    broken = list(suite.broken)
    for task in suite.tasks:
        code = task.code or task.reference
        where = suite.origin(task)
        if not task.has_tests:
            broken.append(BrokenTask(where, f"task {task.name!r} has no tests"))
            continue
        if not code:
            good.append(task)  # nothing to check it against: the model's code is checked later
            continue
        result = sandbox.check(task, code)
        if result.passed:
            good.append(task)
        else:
            what = "starting code" if task.code else "reference solution"
            detail = result.failure.short(200).replace("\n", "; ") if result.failure else ""
            broken.append(
                BrokenTask(
                    where,
                    f"its tests fail on its own {what} ({result.status}){': ' + detail if detail else ''}",
                )
            )
    return replace(suite, tasks=tuple(good), broken=tuple(broken))
