"""The loop's typed state (checkpointed: plain JSON-like data only) and its per-run context (not).

The state holds what a resumed run needs: the round, the best code, its check and its measurement, the
history, the next prompt. The context holds the live objects and settings of one process: the task, the
strategy, the backend, the sandbox (what the loop asks of one: `LoopSandbox`), the trajectory writer,
the event callback. It travels as langgraph's runtime context (``context_schema``), never in the
checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict

from afterburner.agent.strategies import Strategy
from afterburner.llm.base import Backend
from afterburner.results import CheckResult, Comparison, Measurement
from afterburner.settings import Settings  # the one config object (re-exported: agent.state.Settings)
from afterburner.task import Task

__all__ = ["Candidate", "LoopSandbox", "OptimizerState", "RunContext", "Settings"]


class LoopSandbox(Protocol):
    """What the loop asks of a sandbox: `afterburner.sandbox.Sandbox`, the project's `TestGate`, the
    bench's `SerializedSandbox` or a test's stand-in.

    A candidate is checked once: its passed `CheckResult` goes into `measure` (``checked``) and `compare`
    (``checked_a`` for the best, ``checked_b`` for the candidate), which then do not check that code again.

    Optional, read where present: ``reports_runs = True`` (`measure` and `compare` also take
    ``on_run=callback(n, at_most)``, called after each timed run), ``config`` (its ``timeout_s`` and
    ``memory_bytes``: `afterburner.agent.limits`), ``with_limits(timeout_s, memory_bytes)`` (a view with
    other limits), and ``pool.size`` or ``workers`` (how many candidates to evaluate at once).
    """

    def check(self, task: Task, code: str | None = None) -> CheckResult: ...

    def measure(
        self, task: Task, code: str | None = None, repeats: int | None = None, profile: bool = False,
        *, checked: CheckResult | None = None,
    ) -> Measurement: ...  # fmt: skip

    def compare(
        self, task: Task, code_a: str, code_b: str, repeats: int | None = None, min_gain: float = 0.05,
        *, checked_a: CheckResult | None = None, checked_b: CheckResult | None = None,
    ) -> Comparison: ...  # fmt: skip


class Candidate(TypedDict, total=False):
    """One completion of a round and what became of it."""

    index: int
    completion: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    fresh: bool  # written from the problem statement alone (the current code not shown)
    focused: bool  # its reply was prefilled up to the hot statement (afterburner.agent.focus)
    origin: str  # "model", or "rewrite:<name>" for a mechanical rewrite (afterburner.agent.rewrites)
    why: str  # a rewrite's one line on what it changed ("" for the model's)
    extraction: dict  # {"ok", "reason", "source"}
    code: str  # the merged module ("" when extraction failed)
    restored: list[str]  # names whose dropped setup lines were put back (afterburner.agent.repair)
    status: str  # Status value ("format_error" when nothing could be extracted)
    failure: str  # first failing case / error, short
    check: dict | None
    comparison: dict | None  # against the best of that time (a = best, b = this candidate)
    acceptable: bool  # correct and passes the strategy's acceptance rule
    accepted: bool  # became the new best


class OptimizerState(TypedDict, total=False):
    round: int  # rounds generated so far
    conversation: list[dict]  # the prompt of the next round
    suggested: list[str]  # remedy rule ids named in that prompt
    fresh_conversation: list[dict] | None  # the prompt without the code (strategies with `fresh`)
    candidates: list[Candidate]  # the current round's
    baseline: dict | None  # Measurement.to_dict() of the original (with profile)
    original_check: dict | None  # CheckResult.to_dict() of the original (reused by finish's comparison)
    limits: dict | None  # the runs' limits after the original (afterburner.agent.limits.pick_limits)
    best_code: str
    best: dict | None  # Measurement.to_dict() of the best (with profile): its comparison's B side
    best_check: dict | None  # CheckResult.to_dict() of the best (reused as the A side of comparisons)
    best_round: int  # 0: the original
    best_speedup: float  # running estimate: baseline CPU median / best CPU median (separate runs)
    rounds_best_code: list[str]
    history: list[dict]
    failures: list[dict]  # last round's: {"status", "detail"}
    no_improve: int
    tokens_used: int
    llm_calls: int
    elapsed_s: float  # time spent in the loop's nodes, summed over sessions (a resumed run keeps it)
    stop_reason: str
    final: dict | None  # Comparison.to_dict(): original vs best, one interleaved run


@dataclass
class RunContext:
    """Live objects for one process running (or resuming) a run. Not checkpointed."""

    task: Task
    strategy: Strategy
    settings: Settings
    backend: Backend
    sandbox: LoopSandbox
    trajectory: Any = None  # TrajectoryWriter | None
    on_event: Callable[[str, dict], None] | None = None
    run_id: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:  # rounds/candidates left to the strategy are filled in (idempotent)
        self.settings = self.settings.resolved(self.strategy)

    def emit(self, event: str, **payload: Any) -> None:
        if self.on_event is not None:
            self.on_event(event, {"event": event, "run_id": self.run_id, **payload})

    def record(self, type_: str, **fields: Any) -> None:
        if self.trajectory is not None:
            self.trajectory.write(type_, run_id=self.run_id, **fields)
