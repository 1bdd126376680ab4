"""Mechanical rewrites: candidates no model wrote, checked and measured by the sandbox like any other.

Each rewrite is an analysis of the module's syntax tree that finds where a known transformation is safe,
and an edit of the source at the positions the tree gives (`source`). The sandbox then judges the result
as it judges a model's candidate (a wrong answer, a crash or no significant gain is rejected), so an
analysis must be safe where it says so, and may leave to the sandbox what no static analysis can see (an
argument that is not hashable, a module global changed through an alias).

The rewrites: ``functools_cache`` (`cache`), ``hoist_invariants`` (`hoist`), ``numba_njit`` (`njit`). With
a profile (`afterburner.measurement.Profile` or its dict), hoisting and numba look only at loops that hold
a measured share of the time; without one, at every loop of the target and the functions it calls.
`mechanical_candidates` gives the rewrites that apply; `plan_rewrites` also says why the others did not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from afterburner.agent.rewrites.analysis import Module
from afterburner.agent.rewrites.cache import cache_rewrite
from afterburner.agent.rewrites.hoist import hoist_rewrite
from afterburner.agent.rewrites.njit import NUMBA_MIN_RUN_S, njit_rewrite, numba_available
from afterburner.agent.rewrites.rewrite import Rewrite, Skipped

log = logging.getLogger(__name__)

__all__ = [
    "NUMBA_MIN_RUN_S",
    "REWRITES",
    "Rewrite",
    "Skipped",
    "describe",
    "enabled",
    "mechanical_candidates",
    "numba_available",
    "plan_rewrites",
    "rewrite_candidates",
]

REWRITES = ("functools_cache", "hoist_invariants", "numba_njit")


def _hot_lines(profile: Any) -> dict[int, float] | None:
    """line -> measured share, from a `Profile` or its dict; None without samples (no profile)."""
    if profile is None:
        return None
    lines = profile.get("lines") if isinstance(profile, dict) else getattr(profile, "lines", None)
    samples = profile.get("samples") if isinstance(profile, dict) else getattr(profile, "samples", 0)
    if not lines or not samples:
        return None
    out: dict[int, float] = {}
    for ln in lines:
        if (
            isinstance(ln, dict)
            and isinstance(ln.get("line"), int)
            and isinstance(ln.get("share"), int | float)
        ):
            out[ln["line"]] = out.get(ln["line"], 0.0) + float(ln["share"])
    return out


def plan_rewrites(
    code: str, entry_point: str, profile: Any = None, run_s: float | None = None
) -> tuple[list[Rewrite], list[Skipped]]:
    """The rewrites that apply to `code` (each a whole new module), and those that found their pattern
    but stay out (with the reason). `profile`: the code's measured profile; `run_s`: the CPU time of one
    run of its workload (numba's compile time must have a chance to pay). Code that does not parse, or
    lacks the entry point, gets none."""
    try:
        mod = Module(code)
    except (SyntaxError, ValueError):
        return [], []
    if mod.target(entry_point)[0] is None:
        return [], []
    hot = _hot_lines(profile)
    found: list[Rewrite] = []
    cache, skipped = cache_rewrite(mod, entry_point)
    if cache is not None:
        found.append(cache)
    hoist = hoist_rewrite(mod, entry_point, hot)
    if hoist is not None:
        found.append(hoist)
    jit, why = njit_rewrite(mod, entry_point, hot, run_s)
    if jit is not None:
        found.append(jit)
    elif why:
        skipped.append(Skipped("numba_njit", why))
    return [r for r in found if r.code != code], skipped


def mechanical_candidates(
    code: str, entry_point: str, profile: Any = None, run_s: float | None = None
) -> list[Rewrite]:
    """The mechanical rewrites that apply to `code` (see the module's docstring and `plan_rewrites`)."""
    return plan_rewrites(code, entry_point, profile, run_s)[0]


def enabled(strategy: Any, settings: Any) -> bool:
    """Whether a run tries the rewrites: `Settings.rewrites` if set, else the strategy's default."""
    chosen = getattr(settings, "rewrites", None)
    return bool(getattr(strategy, "rewrites", False) if chosen is None else chosen)


def rewrite_candidates(ctx: Any, state: dict, start: int) -> list[dict]:
    """The loop's candidates for the rewrites of the original (`Candidate` dicts with indexes from `start`,
    origin ``rewrite:<name>``, the code ready to check, no completion); [] when the run has them off."""
    code = ctx.task.code
    if not code or not enabled(ctx.strategy, ctx.settings):
        return []
    baseline = state.get("baseline") or {}
    run_s = (baseline.get("cpu_time_s") or {}).get("median")
    found, skipped = plan_rewrites(code, ctx.task.entry_point, baseline.get("profile"), run_s)
    if found or skipped:
        log.info("mechanical rewrites of %s:\n%s", ctx.task.name, describe(found, skipped))
    return [
        {
            "index": start + i,
            "origin": f"rewrite:{r.name}",
            "why": r.why,
            "completion": "",
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "finish_reason": None,
            "fresh": False,
            "extraction": None,
            "code": r.code,
            "check": None,
            "comparison": None,
            "acceptable": False,
        }
        for i, r in enumerate(found)
    ]


def describe(rewrites: Iterable[Rewrite], skipped: Iterable[Skipped]) -> str:
    """One line per rewrite: applies (why) or skipped (reason); for logs and the suite scan."""
    lines = [f"{r.name}: {r.why}" for r in rewrites]
    lines += [f"{s.name} skipped: {s.reason}" for s in skipped]
    return "\n".join(lines)
