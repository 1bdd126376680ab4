"""Training data from problem sets, suites and the optimizer's trajectories, as Hugging Face datasets.

- GRPO prompts: the optimizer's own first conversation for each task (`afterburner.prompts`), so the
  trained policy fits the loop; columns ``prompt`` (messages), ``task`` (``json.dumps(Task.to_dict())``,
  read by the rewards to run the sandbox) and ``task_name``.
- SFT examples: per task, the best correct solution (a trajectory step that passed and was faster, or
  for a from-description task any correct one; a suite task's known faster version, reduced to the
  reply, for its first-round prompt; a problem set's reference solution); columns ``prompt``,
  ``completion`` (messages), ``task``.
- DPO pairs: for one prompt, a faster correct reply chosen over a slower or wrong one; columns
  ``prompt``, ``chosen``, ``rejected``, ``task``.

Tasks whose starting code fails their own tests are excluded and reported (`validate_tasks`); broken
trajectory lines are skipped and counted (`TrajectoryData.broken_lines`). Of a suite in halves (the real
suite's ``metadata.split``), only the configured half is read (`in_split`): training never sees the
test half unless told to.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from afterburner.errors import TaskError
from afterburner.suite import task_split
from afterburner.task import Task, load_problem_set, load_task_file

__all__ = [
    "TrajectoryData",
    "dpo_rows",
    "format_reply",
    "grpo_rows",
    "in_split",
    "keep_tasks",
    "load_tasks",
    "read_trajectories",
    "sft_rows",
    "to_dataset",
    "trajectory_prompt_rows",
    "validate_tasks",
]

log = logging.getLogger(__name__)

_TASK_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def _with_timing_inputs(task: Task) -> Task:
    """A problem-set task has test inputs but no workload: time it on those inputs."""
    if task.has_workload or not task.cases:
        return task
    inputs = tuple(replace(c, expected=None, has_expected=False) for c in task.cases)
    return replace(task, workload_inputs=inputs)


def in_split(task: Task, split: str | None) -> bool:
    """Whether `task` is in half `split` (``train``/``test``; None: every task). A task of a source without
    halves (a problem set, the dev suite) is in either: only a task marked for the other half is out."""
    return split is None or task_split(task) in (None, split)


def load_tasks(
    sources: Sequence[str],
    limit: int | None = None,
    exclude: Iterable[str] = (),
    split: str | None = None,
) -> list[Task]:
    """Tasks from problem sets (.jsonl[.gz], the reference as starting code), suite directories and task files.

    `limit` caps each problem set or directory (after the other filters); names in `exclude` are left
    out (e.g. held-out tasks); `split` keeps one half of a suite in halves (`in_split`).
    """
    excluded = set(exclude)
    tasks: list[Task] = []
    for source in sources:
        p = Path(source)
        if p.is_dir():
            found = []
            for f in sorted(f for f in p.iterdir() if f.suffix in _TASK_FILE_SUFFIXES):
                try:
                    found.append(load_task_file(f))
                except TaskError as e:  # noqa: PERF203 - one broken file does not sink the set: say so, keep the rest
                    log.warning("skipped %s: %s", f, e)
        elif p.name.endswith((".jsonl", ".jsonl.gz")):
            found = [_with_timing_inputs(t) for t in load_problem_set(p, with_solution=True)]
        elif p.suffix in _TASK_FILE_SUFFIXES:
            found = [load_task_file(p)]
        else:
            raise TaskError(
                f"task source {source!r} is not a problem set (.jsonl[.gz]), a directory or a task file"
            )
        found = [t for t in found if t.name not in excluded and in_split(t, split)]
        tasks.extend(found[:limit] if limit is not None else found)
    return tasks


def validate_tasks(
    tasks: Sequence[Task], sandbox: Any, threads: int = 4
) -> tuple[list[Task], list[tuple[str, str]]]:
    """Keep the tasks whose starting code (or reference) passes their own tests; report the others
    (with the task's ``metadata.fixture`` note, when it is a test fixture that is broken on purpose).

    The checks run in `threads` parallel calls (the sandbox is thread-safe); the order is kept.
    """

    def why_not(task: Task) -> str | None:
        code = task.code or task.reference
        if not code:
            return "no starting code and no reference to check"
        if not task.has_tests:
            return "no tests"
        try:
            result = sandbox.check(task, code)
        except TaskError as e:  # the sandbox could not even prepare the task (its oracle fails, ...)
            return str(e)
        if result.passed:
            return None
        detail = result.failure.short(200) if result.failure else ""
        return f"its own code fails its tests ({result.status}) {detail}".strip()

    with ThreadPoolExecutor(max(1, threads)) as pool:
        verdicts = list(pool.map(why_not, tasks))
    kept = [t for t, v in zip(tasks, verdicts, strict=True) if v is None]
    excluded = [
        (t.name, f"{v}; {t.metadata['fixture']}" if t.metadata.get("fixture") else v)
        for t, v in zip(tasks, verdicts, strict=True)
        if v is not None
    ]
    return kept, excluded


def task_json(task: Task) -> str:
    return json.dumps(task.to_dict(), default=repr)


def format_reply(code: str, strategy: str = "default") -> str:
    """A reply in the layout the optimizer's prompts ask for, around `code`."""
    block = f"```python\n{code.rstrip()}\n```"
    if strategy == "afterburner":
        return f"<thinking>\nA correct and efficient solution.\n</thinking>\n<solution>\n{block}\n</solution>"
    return block


def grpo_rows(tasks: Sequence[Task], strategy: str = "default", goal: str = "time") -> list[dict]:
    """One GRPO prompt per task, built by the optimizer's own templates."""
    from afterburner.prompts import initial_conversation

    return [
        {
            "prompt": [dict(m) for m in initial_conversation(task, strategy=strategy, goal=goal)],
            "task": task_json(task),
            "task_name": task.name,
        }
        for task in tasks
    ]


# ---------------------------------------------------------------------------------------------------
# trajectories


@dataclass
class TrajectoryData:
    """What the trajectory files held: per task, its `Task` and its step records."""

    tasks: dict[str, Task] = field(default_factory=dict)
    steps: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    files: int = 0
    broken_lines: int = 0
    skipped_files: list[tuple[str, str]] = field(default_factory=list)


def _kind(record: dict) -> str:
    return str(record.get("type") or record.get("kind") or record.get("record") or "")


def _trajectory_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files.extend(sorted(p.rglob("*.jsonl")))
        elif p.is_file():
            files.append(p)
        else:
            raise TaskError(f"trajectory path {path!r} does not exist")
    return files


def read_trajectories(paths: Sequence[str]) -> TrajectoryData:
    """Read trajectory JSONL files (or directories of them); broken lines are skipped and counted."""
    from afterburner.trajectory import read_trajectory, step_origin

    data = TrajectoryData()
    for path in _trajectory_files(paths):
        try:
            traj = read_trajectory(path)
        except TaskError as e:
            data.skipped_files.append((str(path), str(e)))
            continue
        data.files += 1
        data.broken_lines += int(getattr(traj, "broken_lines", 0) or 0)
        task: Task | None = None
        for record in traj.records:
            rec = record if isinstance(record, dict) else record.to_dict()
            if _kind(rec) == "run" and isinstance(rec.get("task"), dict):
                try:
                    task = Task.from_dict(rec["task"])
                except TaskError as e:
                    data.skipped_files.append((str(path), str(e)))
                    task = None
                    break
                data.tasks.setdefault(task.name, task)
            elif _kind(rec) == "step" and task is not None and step_origin(rec) == "model":
                data.steps[task.name].append(rec)  # a mechanical rewrite's step answered no prompt
        if task is None and not any(str(path) == s for s, _ in data.skipped_files):
            data.skipped_files.append((str(path), "no run record with a task"))
    return data


def keep_tasks(data: TrajectoryData, exclude: Iterable[str] = (), split: str | None = None) -> TrajectoryData:
    """Drop from `data` (in place, and return it) the tasks named in `exclude` and those of the other
    half (`in_split`): a trajectory collected on a test task never becomes training data by accident."""
    excluded = set(exclude)
    for name in [n for n, t in data.tasks.items() if n in excluded or not in_split(t, split)]:
        data.tasks.pop(name)
        data.steps.pop(name, None)
    return data


def trajectory_prompt_rows(data: TrajectoryData, tasks: set[str]) -> list[dict]:
    """GRPO prompts the agent really met: every distinct prompt recorded in the trajectories of `tasks`
    (the first round's and the refine rounds' with their measured feedback), with its task."""
    rows, seen = [], set()
    for name, steps in data.steps.items():
        if name not in tasks:
            continue
        for step in steps:
            messages = step.get("messages")
            key = (name, json.dumps(messages, sort_keys=True))
            if not messages or key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "prompt": [dict(m) for m in messages],
                    "task": task_json(data.tasks[name]),
                    "task_name": name,
                }
            )
    return rows


def _get(rec: dict, *names: str, default: Any = None) -> Any:
    for name in names:
        if rec.get(name) is not None:
            return rec[name]
    return default


def _step_text(step: dict) -> str:
    value = _get(step, "completion", "text", "reply", default="")
    if isinstance(value, dict):
        value = value.get("text", "")
    return str(value or "")


def _step_passed(step: dict) -> bool:
    check = _get(step, "check", "check_result", default=None)
    status = check.get("status") if isinstance(check, dict) else _get(step, "status")
    return status == "passed"


def _step_speedup(step: dict) -> tuple[float, bool]:
    """(speedup, significantly faster) of a step; (1.0, False) when it was not compared."""
    comparison = _get(step, "comparison", default=None)
    if isinstance(comparison, dict) and comparison.get("speedup") is not None:
        speedup = float(comparison["speedup"])
        if speedup != speedup:  # nan
            return 1.0, False
        return speedup, bool(comparison.get("improved"))
    speedup = _get(step, "speedup", default=None)
    return (float(speedup), bool(step.get("improved"))) if speedup is not None else (1.0, False)


def _messages(step: dict) -> list[dict]:
    return [dict(m) for m in (_get(step, "messages", "prompt", default=[]) or [])]


def _good_steps(task: Task, steps: list[dict]) -> list[tuple[float, dict]]:
    """Steps worth imitating, best first: correct and accepted by the optimizer (significantly faster
    than the best so far, or the first correct code of a from-description task)."""
    good = []
    for step in steps:
        if not _step_passed(step) or not _step_text(step):
            continue
        speedup, improved = _step_speedup(step)
        accepted = step.get("accepted")
        if accepted or (accepted is None and (improved or not task.code)):
            good.append((float(step.get("best_speedup") or speedup), step))
    return sorted(good, key=lambda x: -x[0])


def sft_rows(
    trajectories: TrajectoryData | None = None,
    tasks: Sequence[Task] = (),
    strategy: str = "default",
    goal: str = "time",
) -> list[dict]:
    """SFT examples: the best correct solution per trajectory task, and per task of `tasks` its known
    solutions.

    A task with starting code and a different reference (the suites' known faster version) gives the
    optimizer's own first-round prompt answered with that reference, reduced to what the reply must
    hold (`training.reference.reference_reply_code`). A task with a description also gives a prompt
    for the task from its description alone (as the optimizer asks when there is no starting code),
    answered with its reference solution (or its starting code, validated correct): the offline stage
    teaches correctness first.
    """
    rows: list[dict] = []
    if trajectories is not None:
        for name, task in trajectories.tasks.items():
            good = _good_steps(task, trajectories.steps.get(name, []))
            if good and _messages(good[0][1]):
                best = good[0][1]
                rows.append(
                    {
                        "prompt": _messages(best),
                        "completion": [{"role": "assistant", "content": _step_text(best)}],
                        "task": task_json(task),
                    }
                )
    if tasks:
        from afterburner.prompts import initial_conversation
        from training.reference import reference_reply_code

        def row(task: Task, reply: str) -> dict:
            return {
                "prompt": [dict(m) for m in initial_conversation(task, strategy=strategy, goal=goal)],
                "completion": [{"role": "assistant", "content": format_reply(reply, strategy)}],
                "task": task_json(task),
            }

        for task in tasks:
            faster = reference_reply_code(task)
            if faster:
                rows.append(row(task, faster))
            solution = task.reference or task.code  # a task file may only have (correct) starting code
            if solution and task.description:
                rows.append(row(task.with_code(""), solution))
    return rows


def dpo_rows(trajectories: TrajectoryData, max_pairs_per_prompt: int = 2) -> list[dict]:
    """DPO pairs: for the same prompt, a correct faster reply chosen over a wrong or slower one."""
    rows: list[dict] = []
    for name, task in trajectories.tasks.items():
        groups: dict[str, list[dict]] = defaultdict(list)
        for step in trajectories.steps.get(name, []):
            if _messages(step) and _step_text(step):
                groups[json.dumps(_messages(step), sort_keys=True)].append(step)
        for steps in groups.values():
            correct = sorted(((*_step_speedup(s), s) for s in steps if _step_passed(s)), key=lambda x: -x[0])
            if not correct:
                continue
            best_speedup, best_improved, chosen = correct[0]
            if task.code and not best_improved:
                continue  # nothing here is better than the starting code
            wrong = [s for s in steps if not _step_passed(s)]
            slower = [s for sp, imp, s in correct[1:] if not imp and sp < best_speedup]
            for rejected in (wrong + slower)[:max_pairs_per_prompt]:
                if _step_text(rejected) == _step_text(chosen):
                    continue
                rows.append(
                    {
                        "prompt": _messages(chosen),
                        "chosen": [{"role": "assistant", "content": _step_text(chosen)}],
                        "rejected": [{"role": "assistant", "content": _step_text(rejected)}],
                        "task": task_json(task),
                    }
                )
    return rows


def to_dataset(rows: list[dict], columns: Sequence[str] | None = None) -> Any:
    """A `datasets.Dataset` of the rows (optionally only some columns)."""
    from datasets import Dataset

    if columns is not None:
        rows = [{k: r[k] for k in columns} for r in rows]
    return Dataset.from_list(rows)
