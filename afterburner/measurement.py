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

from afterburner.results import Comparison, Measurement, Stats

__all__ = [
    "bootstrap_ratio_ci",
    "call_shares",
    "compare_samples",
    "summarize",
]


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
