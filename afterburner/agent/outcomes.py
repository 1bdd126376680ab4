"""Where a candidate went: one category per trajectory step, from the fields the step already has.

The categories, in the order a candidate meets them:

- ``format_error``: no function named like the target could be taken out of the reply (or merged back);
- ``unchanged``: the code again (the same program as the current best: formatting, comments, imports);
- ``wrong``: ran, but gave a different answer on a test or workload input;
- ``crash``: raised, did not parse, lacked the entry point, ran out of memory or output, broke its worker;
- ``timeout``: ran past the wall-clock or CPU limit of one run;
- ``slower``: correct and new, and significantly slower than the best (the whole 95% interval of the
  speedup below 1; without an interval, a median above the best's);
- ``not_significant``: correct and new, neither significantly faster nor significantly slower (or not
  measured);
- ``faster``: correct and significantly faster than the best of its round (`Comparison.improved`),
  or, written from a problem statement with nothing to compare with, accepted.

`classify_step` reads a step record (or a `Candidate` dict): ``status``, ``comparison`` and ``accepted``.
`count_outcomes` counts the model's candidates (``origin`` "model"); the mechanical rewrites tried beside
them (`afterburner.agent.rewrites`) are counted apart, per rewrite, by `count_rewrite_outcomes`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from afterburner.trajectory import step_origin

__all__ = ["OUTCOMES", "OUTCOME_LABELS", "classify_step", "count_outcomes", "count_rewrite_outcomes"]

OUTCOMES = (
    "format_error",
    "unchanged",
    "wrong",
    "crash",
    "timeout",
    "slower",
    "not_significant",
    "faster",
)
OUTCOME_LABELS = {
    "format_error": "format error",
    "unchanged": "the code again",
    "wrong": "wrong",
    "crash": "crash",
    "timeout": "timeout",
    "slower": "slower",
    "not_significant": "not significant",
    "faster": "faster",
}

_CRASH = {
    "runtime_error",
    "syntax_error",
    "missing_entry_point",
    "memory_exceeded",
    "output_exceeded",
    "sandbox_error",
}


def classify_step(step: Mapping[str, Any]) -> str:
    """The outcome (one of `OUTCOMES`) of one candidate step."""
    status = str(step.get("status") or "")
    if status == "format_error":
        return "format_error"
    if status == "unchanged":
        return "unchanged"
    if status == "wrong_answer":
        return "wrong"
    if status == "timeout":
        return "timeout"
    if status in _CRASH or status != "passed":
        return "crash"
    cmp = step.get("comparison") or {}
    if not cmp:  # measured alone (written from a statement, no code to compare with)
        return "faster" if step.get("accepted") else "not_significant"
    if cmp.get("improved"):
        return "faster"
    speedup, ci = cmp.get("speedup"), cmp.get("speedup_ci") or ()
    if len(ci) == 2 and all(isinstance(x, int | float) and math.isfinite(x) for x in ci):
        return "slower" if ci[1] < 1.0 else "not_significant"  # slower: the whole interval below 1
    if isinstance(speedup, int | float) and math.isfinite(speedup) and speedup < 1.0:
        return "slower"
    return "not_significant"


def count_outcomes(steps: Iterable[Mapping[str, Any]], origin: str = "model") -> dict[str, int]:
    """How many steps of `origin` (the model's, unless told) went where: every key of `OUTCOMES`, in order
    (zeros included)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for step in steps:
        if step_origin(step) == origin:
            counts[step.get("outcome") or classify_step(step)] += 1
    return counts


def count_rewrite_outcomes(steps: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per mechanical rewrite (its origin, ``rewrite:<name>``), where its steps went; {} without any."""
    steps = list(steps)
    origins = sorted({step_origin(s) for s in steps} - {"model"})
    return {o: count_outcomes(steps, origin=o) for o in origins}
