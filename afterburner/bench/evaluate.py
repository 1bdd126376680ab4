"""Evaluate one optimizer result for the benchmark: re-check and re-measure, never trust its own figures.

The final code (and the best code after each round) is checked with `Sandbox.check` and compared, in
fresh interleaved runs (`Sandbox.compare`), with the starting code and with each known solution of the
task (its reference, and its starting code when it has one that differs). Code that is the same
program as a solution (`afterburner.program.same_program`) is checked but not measured: it is as good
as that solution, with speedup 1.0. Every distinct code of a task is evaluated once (`CodeCache`), so a
round that kept the previous best costs nothing.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from afterburner.metrics import Point, SolutionComparison, integral_ratio
from afterburner.program import program_hash, same_program
from afterburner.task import Task

__all__ = ["CodeCache", "TaskRecord", "evaluate_code", "known_solutions"]

RECORD_FORMAT = "afterburner.bench/1"


def known_solutions(task: Task) -> list[tuple[str, str]]:
    """The solutions the paper's metrics count against: the reference, then the starting code if it differs."""
    out = []
    if task.reference:
        out.append(("reference", task.reference))
    if task.code and not same_program(task.code, task.reference):
        out.append(("start", task.code))
    return out


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def _ci(ci: Any) -> tuple[float, float] | None:
    if not ci:
        return None
    lo, hi = _num(ci[0]), _num(ci[1])
    return (lo, hi) if lo is not None and hi is not None else None


def _peak_times_cpu(m: Any) -> float | None:
    peak, cpu = getattr(m, "peak_memory_bytes", None), getattr(m, "cpu_time_s", None)
    return peak * cpu.median if peak is not None and cpu is not None and cpu.n else None


def _integral_ratio(comparison: Any) -> float | None:
    """Integral code / solution; 1.0 when both are 0.

    A run too short for one memory sample has no integral: then both sides use peak memory x median CPU
    time instead (an upper bound of the integral), so the two numbers stay comparable.
    """
    a, b = comparison.a.integral, comparison.b.integral
    if a is None or b is None:
        a, b = _peak_times_cpu(comparison.a), _peak_times_cpu(comparison.b)
    return integral_ratio(a, b)


@dataclass
class CodeCache:
    """Points of one task by code hash (thread-safe), so each distinct code is measured once."""

    points: dict[str, Point] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def evaluate_code(
    sandbox: Any,
    task: Task,
    start: str | None,
    code: str | None,
    repeats: int | None = None,
    min_gain: float = 0.05,
    cache: CodeCache | None = None,
) -> Point:
    """Check `code` on the task's tests, then measure it against `start` and the task's known solutions."""
    if not code or not code.strip():
        return Point(correct=False, status="no_code")
    key = program_hash(code) + ":" + program_hash(start or "")
    if cache is not None:
        with cache.lock:
            if key in cache.points:
                return cache.points[key]
    point = _evaluate(sandbox, task, start, code, repeats, min_gain)
    if cache is not None:
        with cache.lock:
            cache.points[key] = point
    return point


def _evaluate(
    sandbox: Any, task: Task, start: str | None, code: str, repeats: int | None, min_gain: float
) -> Point:
    check = sandbox.check(task, code)
    if not check.passed:
        return Point(correct=False, status=str(check.status))
    speedup = ci = mem = None
    start_cmp = None
    identical = same_program(start, code)
    if identical:
        speedup, ci, mem = 1.0, (1.0, 1.0), 1.0
    elif start:
        start_cmp = sandbox.compare(task, start, code, repeats=repeats, min_gain=min_gain, checked_b=check)
        speedup, ci, mem = _num(start_cmp.speedup), _ci(start_cmp.speedup_ci), _num(start_cmp.memory_ratio)
    solutions = []
    for label, solution in known_solutions(task):
        if same_program(solution, code):
            solutions.append(SolutionComparison(label, identical=True, speedup=1.0, speedup_ci=(1.0, 1.0)))
            continue
        c = start_cmp if start_cmp is not None and same_program(solution, start) else None
        if c is None:
            c = sandbox.compare(task, solution, code, repeats=repeats, min_gain=min_gain, checked_b=check)
        solutions.append(
            SolutionComparison(
                label,
                speedup=_num(c.speedup),
                speedup_ci=_ci(c.speedup_ci),
                memory_ratio=_num(c.memory_ratio),
                integral_ratio=_num(_integral_ratio(c)),
            )
        )
    return Point(True, str(check.status), speedup, ci, mem, identical, tuple(solutions))


@dataclass(frozen=True)
class TaskRecord:
    """One (task, strategy, model) of a benchmark run: the final point, the per-round points, the costs."""

    task: str
    strategy: str
    model: str
    final: Point
    rounds: tuple[Point, ...] = ()
    n_rounds: int = 0  # rounds the optimizer ran
    stop_reason: str = ""
    optimizer_status: str = ""
    optimizer_speedup: float | None = None  # the optimizer's own estimate (selection-biased; for reference)
    tokens_used: int = 0
    llm_calls: int = 0
    wall_time_s: float = 0.0
    error: str | None = None  # our fault or the backend's (the record is retried on --resume)
    trajectory_path: str | None = None
    final_code: str = ""
    outcomes: dict[str, int] | None = None  # where its candidates went (`afterburner.agent.outcomes`)
    rewrite_outcomes: dict[str, dict[str, int]] | None = None  # the mechanical rewrites', per origin

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.task, self.strategy, self.model)

    def to_dict(self) -> dict:
        return {
            "format": RECORD_FORMAT,
            "task": self.task,
            "strategy": self.strategy,
            "model": self.model,
            "final": self.final.to_dict(),
            "rounds": [p.to_dict() for p in self.rounds],
            "n_rounds": self.n_rounds,
            "stop_reason": self.stop_reason,
            "optimizer_status": self.optimizer_status,
            "optimizer_speedup": _num(self.optimizer_speedup),
            "tokens_used": self.tokens_used,
            "llm_calls": self.llm_calls,
            "wall_time_s": self.wall_time_s,
            "error": self.error,
            "trajectory_path": self.trajectory_path,
            "final_code": self.final_code,
            "outcomes": self.outcomes,
            "rewrite_outcomes": self.rewrite_outcomes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TaskRecord:
        return cls(
            task=d["task"],
            strategy=d["strategy"],
            model=d["model"],
            final=Point.from_dict(d["final"]),
            rounds=tuple(Point.from_dict(p) for p in d.get("rounds", ())),
            n_rounds=int(d.get("n_rounds", 0)),
            stop_reason=d.get("stop_reason", ""),
            optimizer_status=d.get("optimizer_status", ""),
            optimizer_speedup=d.get("optimizer_speedup"),
            tokens_used=int(d.get("tokens_used", 0)),
            llm_calls=int(d.get("llm_calls", 0)),
            wall_time_s=float(d.get("wall_time_s", 0.0)),
            error=d.get("error"),
            trajectory_path=d.get("trajectory_path"),
            final_code=d.get("final_code", ""),
            outcomes=d.get("outcomes"),
            rewrite_outcomes=d.get("rewrite_outcomes"),
        )
