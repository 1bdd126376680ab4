"""The benchmark's metrics: pure arithmetic on what the sandbox measured (nothing runs code here).

One `Point` is the evaluation of one piece of code for one task (the final code, or the best code after
round r). The aggregates over tasks, as defined in docs/benchmarks.md:

- pass@1: the share of tasks whose code passes the task's tests (re-checked by the benchmark).
- significant speedup rate: the share of tasks whose code is correct and whose speedup over the starting
  code has the lower bound of its 95% bootstrap interval at least `threshold` (1.1 by default).
- geometric-mean speedup over all tasks; a task without a correct, measured speedup counts 1.0 (the
  optimizer returns the original code when it finds nothing better).
- Time%, Memory%, Integral% (the Afterburner paper's metrics): per task, the share of the known solutions
  (the reference, and the starting code when the task has one that differs) that the code is at least as
  good as; summed over the correct tasks, divided by all tasks, in percent. Failures count 0.

"At least as good as solution s" (with tolerance `tol`, 0.05 by default):
- time: the code is not significantly slower than s: the upper bound of the 95% interval of
  CPU(s) / CPU(code) (medians, measured interleaved) is at least 1 - tol;
- memory: peak memory(code) <= (1 + tol) * peak memory(s);
- integral: memory-time integral(code) <= (1 + tol) * integral(s) (peak memory x median CPU time on both
  sides when a run was too short to sample, see `afterburner.bench.evaluate`).
A code identical to s (the same program: equal ASTs, so formatting and comments aside) is as good as s without
measuring.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Aggregate",
    "Point",
    "SolutionComparison",
    "aggregate",
    "finite",
    "geomean_speedup",
    "integral_ratio",
    "round_curve",
    "shares",
]

DEFAULT_THRESHOLD = 1.1
DEFAULT_TOLERANCE = 0.05


def finite(x: Any) -> bool:
    """A number that is neither NaN nor infinite (None and anything not a number are not)."""
    return isinstance(x, int | float) and math.isfinite(x)


def integral_ratio(a: float | None, b: float | None) -> float | None:
    """Memory-time integral b / a (the code's over the solution's): below 1 the code uses less.

    1.0 when both are 0; None when either was not measured or only the solution's is 0.
    """
    if a is None or b is None:
        return None
    if a <= 0:
        return 1.0 if b <= 0 else None
    return b / a


@dataclass(frozen=True)
class SolutionComparison:
    """The code against one known solution s (the reference or the starting code).

    `speedup_ci` is the 95% interval of CPU(s) / CPU(code); `memory_ratio` and `integral_ratio` are
    code / s (below 1 means the code uses less). None when not measured (failed or unavailable).
    """

    solution: str  # "reference" | "start"
    identical: bool = False
    speedup: float | None = None
    speedup_ci: tuple[float, float] | None = None
    memory_ratio: float | None = None
    integral_ratio: float | None = None

    def time_ok(self, tol: float = DEFAULT_TOLERANCE) -> bool:
        if self.identical:
            return True
        return self.speedup_ci is not None and finite(self.speedup_ci[1]) and self.speedup_ci[1] >= 1 - tol

    def memory_ok(self, tol: float = DEFAULT_TOLERANCE) -> bool:
        return self.identical or (finite(self.memory_ratio) and self.memory_ratio <= 1 + tol)

    def integral_ok(self, tol: float = DEFAULT_TOLERANCE) -> bool:
        return self.identical or (finite(self.integral_ratio) and self.integral_ratio <= 1 + tol)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["speedup_ci"] = list(self.speedup_ci) if self.speedup_ci else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SolutionComparison:
        d = dict(d)
        ci = d.get("speedup_ci")
        d["speedup_ci"] = tuple(ci) if ci else None
        return cls(**d)


def shares(comparisons: Sequence[SolutionComparison], tol: float = DEFAULT_TOLERANCE) -> dict[str, float]:
    """Per task: the share of known solutions the code is at least as good as, per metric (0..1).

    >>> c = [SolutionComparison("reference", speedup=0.5, speedup_ci=(0.45, 0.55), memory_ratio=1.0),
    ...      SolutionComparison("start", identical=True)]
    >>> shares(c)
    {'time': 0.5, 'memory': 1.0, 'integral': 0.5}
    """
    if not comparisons:
        return {"time": 0.0, "memory": 0.0, "integral": 0.0}
    n = len(comparisons)
    return {
        "time": sum(c.time_ok(tol) for c in comparisons) / n,
        "memory": sum(c.memory_ok(tol) for c in comparisons) / n,
        "integral": sum(c.integral_ok(tol) for c in comparisons) / n,
    }


@dataclass(frozen=True)
class Point:
    """One code of one task, evaluated: correctness, speedup over the starting code, the solutions."""

    correct: bool
    status: str = ""  # the sandbox status of the check ("passed", "wrong_answer", ...)
    speedup: float | None = None  # median CPU(start) / median CPU(code), None when not measured
    speedup_ci: tuple[float, float] | None = None
    memory_ratio: float | None = None  # peak memory code / start
    identical_to_start: bool = False
    solutions: tuple[SolutionComparison, ...] = field(default_factory=tuple)

    @property
    def reference(self) -> SolutionComparison | None:
        return next((s for s in self.solutions if s.solution == "reference"), None)

    def significant(self, threshold: float = DEFAULT_THRESHOLD) -> bool:
        return (
            self.correct
            and self.speedup_ci is not None
            and finite(self.speedup_ci[0])
            and self.speedup_ci[0] >= threshold
        )

    def geo_speedup(self) -> float:
        """The speedup that enters the geometric mean: the measured one, else 1.0."""
        if self.correct and finite(self.speedup) and self.speedup > 0:
            return float(self.speedup)
        return 1.0

    def to_dict(self) -> dict:
        return {
            "correct": self.correct,
            "status": self.status,
            "speedup": self.speedup,
            "speedup_ci": list(self.speedup_ci) if self.speedup_ci else None,
            "memory_ratio": self.memory_ratio,
            "identical_to_start": self.identical_to_start,
            "solutions": [s.to_dict() for s in self.solutions],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Point:
        ci = d.get("speedup_ci")
        return cls(
            correct=bool(d["correct"]),
            status=d.get("status", ""),
            speedup=d.get("speedup"),
            speedup_ci=tuple(ci) if ci else None,
            memory_ratio=d.get("memory_ratio"),
            identical_to_start=bool(d.get("identical_to_start", False)),
            solutions=tuple(SolutionComparison.from_dict(s) for s in d.get("solutions", ())),
        )


@dataclass(frozen=True)
class Aggregate:
    """The suite-level figures over n tasks (rates in 0..1, the paper's metrics in percent)."""

    n: int
    pass_at_1: float
    significant_rate: float
    geomean_speedup: float
    time_pct: float
    memory_pct: float
    integral_pct: float
    n_with_reference: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def geomean_speedup(points: Iterable[Point]) -> float:
    """Geometric mean of `Point.geo_speedup` over all points (1.0 for none)."""
    logs = [math.log(p.geo_speedup()) for p in points]
    return math.exp(sum(logs) / len(logs)) if logs else 1.0


def aggregate(
    points: Sequence[Point], threshold: float = DEFAULT_THRESHOLD, tol: float = DEFAULT_TOLERANCE
) -> Aggregate:
    """The aggregates over one point per task (see the module docstring for the definitions)."""
    n = len(points)
    if n == 0:
        nan = float("nan")
        return Aggregate(0, nan, nan, nan, nan, nan, nan)
    totals = {"time": 0.0, "memory": 0.0, "integral": 0.0}
    for p in points:
        if p.correct and p.solutions:
            for k, v in shares(p.solutions, tol).items():
                totals[k] += v
    return Aggregate(
        n=n,
        pass_at_1=sum(p.correct for p in points) / n,
        significant_rate=sum(p.significant(threshold) for p in points) / n,
        geomean_speedup=geomean_speedup(points),
        time_pct=100 * totals["time"] / n,
        memory_pct=100 * totals["memory"] / n,
        integral_pct=100 * totals["integral"] / n,
        n_with_reference=sum(p.reference is not None for p in points),
    )


def round_curve(
    per_task_rounds: Sequence[Sequence[Point]],
    final: Sequence[Point] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    tol: float = DEFAULT_TOLERANCE,
) -> list[Aggregate]:
    """Aggregates recomputed after round 1, 2, ..., N (N = the most rounds any task ran).

    A task that stopped early (or has no rounds) keeps its last point for the later rounds; with no
    rounds at all its `final` point is used (when given), else it counts as a failure.
    """
    n_rounds = max((len(r) for r in per_task_rounds), default=0)
    curve = []
    for r in range(n_rounds):
        pts = []
        for i, rounds in enumerate(per_task_rounds):
            if rounds:
                pts.append(rounds[min(r, len(rounds) - 1)])
            elif final is not None:
                pts.append(final[i])
            else:
                pts.append(Point(correct=False, status="no_rounds"))
        curve.append(aggregate(pts, threshold, tol))
    return curve
