"""Statistics of measurements: repeated CPU time, memory, the memory-time integral, comparisons.

Everything here is pure computation on numbers the sandbox collected; nothing runs candidate code.
A speedup is the ratio of median CPU times of two candidates measured interleaved (A B A B ...) in
one run, with a 95% bootstrap confidence interval; it counts as an improvement only when the interval's
lower bound is above ``1 + min_gain``.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from afterburner.sandbox.result import Failure, Status

__all__ = [
    "Comparison",
    "Measurement",
    "Profile",
    "Stats",
    "bootstrap_ratio_ci",
    "call_shares",
    "summarize",
]


@dataclass(frozen=True)
class Stats:
    """Summary of repeated samples (seconds unless said otherwise)."""

    median: float
    min: float
    max: float
    iqr: float
    mad: float
    n: int
    samples: tuple[float, ...] = ()

    @property
    def cv(self) -> float:
        """Robust coefficient of variation: 1.4826 * MAD / median."""
        return 1.4826 * self.mad / self.median if self.median else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["samples"] = list(self.samples)
        return d


def summarize(samples: Sequence[float]) -> Stats:
    xs = sorted(float(x) for x in samples)
    if not xs:
        return Stats(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), 0, ())
    med = statistics.median(xs)
    if len(xs) >= 4:
        q = statistics.quantiles(xs, n=4, method="inclusive")
        iqr = q[2] - q[0]
    else:
        iqr = xs[-1] - xs[0]
    mad = statistics.median(abs(x - med) for x in xs)
    return Stats(med, xs[0], xs[-1], iqr, mad, len(xs), tuple(samples))


def bootstrap_ratio_ci(
    a: Sequence[float], b: Sequence[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of median(a) / median(b) (a = baseline, b = candidate: a speedup)."""
    if not a or not b:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    ratios = []
    na, nb = len(a), len(b)
    for _ in range(resamples):
        ma = statistics.median(rng.choices(a, k=na))
        mb = statistics.median(rng.choices(b, k=nb))
        ratios.append(ma / mb if mb > 0 else math.inf)
    ratios.sort()
    lo = ratios[int((1 - confidence) / 2 * resamples)]
    hi = ratios[min(resamples - 1, int((1 + confidence) / 2 * resamples))]
    return (lo, hi)


@dataclass(frozen=True)
class Profile:
    """Where the time goes: top functions and lines of the candidate's own code, by share of samples,
    and the calls on those lines the samples fell in (`calls`: which library routine, which conversion).

    A sample is charged to the call the candidate's innermost frame is in, or has just returned from
    (CPython runs the sampler at call ends and loop jumps): so time in C functions (``np.array``) is
    seen, but time in an operator (``a * b``) just before a call may be charged to that call.
    """

    functions: tuple[dict, ...] = ()  # {"name", "line", "self_share", "total_share"}
    lines: tuple[dict, ...] = ()  # {"line", "share", "code", "function"}
    samples: int = 0
    calls: tuple[dict, ...] = ()  # {"line", "function", "callee", "inner", "share"}

    def text(self, top: int = 5) -> str:
        """Short text for a prompt: the hot lines with their measured share of the time."""
        if not self.samples:
            return "(no profile samples)"
        out = [f"Hot lines (share of {self.samples} CPU-time samples):"]
        out.extend(
            f"  line {ln['line']:>4} {100 * ln['share']:5.1f}%  {ln.get('code', '').strip()}"
            for ln in self.lines[:top]
        )
        calls = [c for c in self.calls if c["share"] >= 0.02][:top]
        if calls:
            out.append("Time inside calls (the callee, where it was spent, share):")
            out.extend(
                f"  line {c['line']:>4} {100 * c['share']:5.1f}%  {c['callee'] or c['inner']}"
                + (f" (in {c['inner']})" if c["inner"] and c["callee"] else "")
                for c in calls
            )
        if self.functions:
            out.append("Functions (total share):")
            out.extend(f"  {fn['name']} {100 * fn['total_share']:5.1f}%" for fn in self.functions[:top])
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {
            "functions": list(self.functions),
            "lines": list(self.lines),
            "samples": self.samples,
            "calls": list(self.calls),
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> Profile | None:
        if not d:
            return None
        return cls(
            tuple(d.get("functions", ())),
            tuple(d.get("lines", ())),
            int(d.get("samples", 0)),
            tuple(d.get("calls", ())),
        )


def call_shares(prof_calls: Sequence[Sequence], code: str, samples: int) -> tuple[dict, ...]:
    """The profiler's call samples as {"line", "function", "callee", "inner", "share"}, largest first.

    `prof_calls` rows are (function, line, call line, call end line, call col, call end col, innermost
    library function, count); the callee is the called expression as written in `code` (``np.array``),
    `inner` the innermost library Python function the time was in (``numpy.linalg._linalg.eig``).
    """
    import ast

    if not samples:
        return ()
    spans: dict[tuple[int, int, int, int], str] = {}
    try:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Call):
                key = (node.lineno, node.end_lineno or 0, node.col_offset, node.end_col_offset or 0)
                spans[key] = ast.unparse(node.func)
    except (SyntaxError, ValueError):
        pass
    merged: dict[tuple, int] = {}
    for fn, ln, l0, l1, c0, c1, inner, n in prof_calls:
        callee = spans.get((l0, l1, c0, c1), "")
        key = (int(ln), str(fn), callee, str(inner))
        merged[key] = merged.get(key, 0) + int(n)
    return tuple(
        {"line": ln, "function": fn, "callee": callee, "inner": inner, "share": n / samples}
        for (ln, fn, callee, inner), n in sorted(merged.items(), key=lambda kv: -kv[1])
        if callee or inner
    )


@dataclass(frozen=True)
class Measurement:
    """A candidate's measured cost over the task's workload."""

    status: Status
    cpu_time_s: Stats | None = None  # user+sys CPU of the child over the workload, repeated
    wall_time_s: Stats | None = None
    peak_memory_bytes: int | None = None  # Python-level peak (tracemalloc) over the workload
    peak_rss_bytes: int | None = None  # peak resident set size growth of the child over its start
    integral: float | None = None  # memory-time integral, byte-seconds (sampled, trapezoid rule)
    profile: Profile | None = None
    instructions: int | None = None  # callgrind instruction count (optional, deterministic)
    failure: Failure | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is Status.PASSED

    def to_dict(self) -> dict:
        return {
            "status": self.status.value,
            "cpu_time_s": self.cpu_time_s.to_dict() if self.cpu_time_s else None,
            "wall_time_s": self.wall_time_s.to_dict() if self.wall_time_s else None,
            "peak_memory_bytes": self.peak_memory_bytes,
            "peak_rss_bytes": self.peak_rss_bytes,
            "integral": self.integral,
            "profile": self.profile.to_dict() if self.profile else None,
            "instructions": self.instructions,
            "failure": asdict(self.failure) if self.failure else None,
            "details": self.details,
        }


@dataclass(frozen=True)
class Comparison:
    """Baseline A against candidate B, measured interleaved in one run."""

    speedup: float  # median CPU(A) / median CPU(B); > 1 means B is faster
    speedup_ci: tuple[float, float]
    improved: bool  # lower bound of the interval above 1 + min_gain
    min_gain: float
    a: Measurement
    b: Measurement
    memory_ratio: float | None = None  # peak memory B / A (< 1 means B uses less)

    @property
    def status_a(self) -> Status:
        return self.a.status

    @property
    def status_b(self) -> Status:
        return self.b.status

    def to_dict(self) -> dict:
        return {
            "speedup": self.speedup,
            "speedup_ci": list(self.speedup_ci),
            "improved": self.improved,
            "min_gain": self.min_gain,
            "memory_ratio": self.memory_ratio,
            "status_a": self.status_a.value,
            "status_b": self.status_b.value,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
        }


def compare_samples(
    a: Measurement, b: Measurement, min_gain: float = 0.05, confidence: float = 0.95, seed: int = 0
) -> Comparison:
    """Turn two interleaved measurements into a `Comparison` (no speedup unless both passed)."""
    mem_ratio = None
    if a.peak_memory_bytes and b.peak_memory_bytes is not None:
        mem_ratio = b.peak_memory_bytes / a.peak_memory_bytes
    if not (a.ok and b.ok and a.cpu_time_s and b.cpu_time_s and a.cpu_time_s.n and b.cpu_time_s.n):
        nan = float("nan")
        return Comparison(nan, (nan, nan), False, min_gain, a, b, mem_ratio)
    sa, sb = a.cpu_time_s.samples, b.cpu_time_s.samples
    speedup = a.cpu_time_s.median / b.cpu_time_s.median if b.cpu_time_s.median > 0 else math.inf
    ci = bootstrap_ratio_ci(sa, sb, confidence, seed=seed)
    return Comparison(speedup, ci, ci[0] > 1 + min_gain, min_gain, a, b, mem_ratio)
