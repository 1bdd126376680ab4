"""Strategies: how many candidates per round, which prompts, which feedback, which acceptance rule.

- ``default`` (ours): k candidates per round, feedback with the profile's hot lines, a remedy for the
  slow pattern on them, the last round's failures and a short history. When the task has a problem
  statement, half of each round's candidates are written from it alone, without the current code (a small
  model shown the slow code tends to return it; written afresh it often recalls the efficient algorithm:
  docs/benchmarks.md). A candidate is accepted only when its gain is statistically significant
  (`Comparison.improved`); stops after `patience` rounds in which correct new code was measured and none
  was significantly faster (rounds of echoes or failures don't count).
- ``afterburner`` (the paper, faithfully): one candidate per round in the ``<thinking>``/``<solution>``
  format, the one-line feedback ``Passed / Time / Memory / Integral``, greedy update (correct and faster
  by the median: no significance test), a fixed number of rounds, no patience.
- ``baseline``: no feedback: every LLM call in a single round (best of N samples).

``default`` also tries, in its first round and beside the model's k candidates (not counted in k), the
mechanical rewrites that apply to the original (`afterburner.agent.rewrites`: ``functools.cache`` on
pure recursion, loop-invariant calls hoisted, ``numba.njit``); the papers' strategies do not
(``Settings.rewrites`` / ``--rewrites`` / ``--no-rewrites`` override).

``default`` and ``baseline`` prefill the reply, where the backend can continue an assistant message,
with the code fence and the target's signature (`afterburner.prompts.reply_start`), and stop at the
closing fence; the paper's layout is left to the model and stops at ``</solution>``. Half of
``default``'s samples of the refine prompt start at the hot statement instead (`afterburner.agent.focus`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from afterburner.errors import ConfigError
from afterburner.metrics import finite, integral_ratio
from afterburner.prompts import STYLES, PromptStyle
from afterburner.results import Comparison

__all__ = ["STRATEGIES", "Strategy", "accept_greedy", "accept_significant", "get_strategy", "score"]


def _memory_ratio(c: Comparison) -> float | None:
    r = c.memory_ratio
    return r if isinstance(r, int | float) and math.isfinite(r) else None


def _integral_ratio(c: Comparison) -> float | None:
    a, b = c.a.integral, c.b.integral
    # a zero integral on the old side counts as not measured here: the greedy rule then uses speed / memory
    return integral_ratio(a, b) if a else None


def accept_significant(c: Comparison, goal: str) -> bool:
    """Ours: the gain must be significant (interval above 1 + min_gain) and the other cost not worse."""
    mem = _memory_ratio(c)
    lo, hi = tuple(c.speedup_ci or (math.nan, math.nan))[:2]
    if goal == "time":
        return bool(c.improved)
    if goal == "memory":  # peak memory is near-deterministic; time must not be clearly worse
        return mem is not None and mem < 1 - c.min_gain and finite(hi) and hi >= 0.9
    return (bool(c.improved) and (mem is None or mem <= 1.05)) or (
        mem is not None and mem < 1 - c.min_gain and finite(lo) and lo >= 1.0
    )


def accept_greedy(c: Comparison, goal: str) -> bool:
    """The paper's: correct and better by the median (time), by peak memory, or by the integral."""
    speedup = c.speedup
    if goal == "time":
        return finite(speedup) and speedup > 1.0
    if goal == "memory":
        mem = _memory_ratio(c)
        return mem is not None and mem < 1.0
    integral = _integral_ratio(c)
    if integral is not None:
        return integral < 1.0
    mem = _memory_ratio(c)
    return finite(speedup) and speedup / (mem or 1.0) > 1.0


def score(c: Comparison, goal: str) -> float:
    """How much better a candidate is than the best it was compared with (higher is better)."""
    speedup = c.speedup if finite(c.speedup) else 0.0
    mem = _memory_ratio(c) or 1.0
    if goal == "time":
        return speedup
    if goal == "memory":
        return 1.0 / mem if mem > 0 else math.inf
    return speedup / mem if mem > 0 else math.inf


@dataclass(frozen=True)
class Strategy:
    """A named way to run the loop: prompts, candidates per round, acceptance, feedback, stop rules."""

    name: str
    candidates: int  # k per round
    rounds: int  # default max rounds
    accept: Callable[[Comparison, str], bool]  # is B (the candidate) better than A (the best)?
    feedback: str  # "profile" (ours), "paper" (one line), "none"
    use_patience: bool = True
    single_round: bool = False  # all calls in one round (rounds x candidates samples)
    fresh: float = 0.0  # share of each round's candidates written from the problem statement alone
    stop: tuple[str, ...] = ("\n```\n",)  # the closing fence (not an opening ```python): the code is done
    prompts: PromptStyle = STYLES["default"]  # its templates; whether the reply is prefilled (`reply_start`)
    focus: float = 0.0  # share of the refine prompt's samples prefilled up to the hot statement (agent.focus)
    rewrites: bool = False  # round 1 also tries the mechanical rewrites (`afterburner.agent.rewrites`)
    description: str = ""


STRATEGIES: dict[str, Strategy] = {
    "default": Strategy(
        name="default",
        prompts=STYLES["default"],
        candidates=4,
        rounds=4,
        accept=accept_significant,
        feedback="profile",
        fresh=0.5,
        focus=0.5,
        rewrites=True,
        description="k candidates per round (half from the problem statement alone, half of the rest "
        "started at the hot statement), profile + remedy feedback, significant gains only, patience; "
        "round 1 also tries the mechanical rewrites",
    ),
    "afterburner": Strategy(
        name="afterburner",
        prompts=STYLES["afterburner"],
        candidates=1,
        rounds=4,
        accept=accept_greedy,
        feedback="paper",
        use_patience=False,
        stop=("</solution>",),
        description="the paper's loop: one candidate, Passed/Time/Memory/Integral feedback, greedy update",
    ),
}
# default's prompts and acceptance, without feedback, patience, rewrites or fresh candidates, in one round
STRATEGIES["baseline"] = replace(
    STRATEGIES["default"],
    name="baseline",
    feedback="none",
    use_patience=False,
    single_round=True,
    fresh=0.0,
    focus=0.0,
    rewrites=False,
    description="no feedback: best of rounds x candidates samples in one round",
)


def get_strategy(strategy: str | Strategy) -> Strategy:
    if isinstance(strategy, Strategy):
        return strategy
    try:
        return STRATEGIES[strategy]
    except KeyError:
        raise ConfigError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}") from None
