"""Rewards that run the policy's code: picklable callables in trl's reward-function form.

Each reward is called as ``reward(completions, task=[...], **other_columns) -> list[float]`` with one
float per completion. ``completions`` are strings or conversational lists of messages (the last
assistant message is the reply); ``task`` is the dataset column holding ``json.dumps(Task.to_dict())``.

- `SpeedupReward` (our default): correctness is a gate; a correct candidate earns
  ``e = clip(log(speedup), lo, hi)`` only when the speedup over the starting code is significant
  (`Comparison.improved`, or significantly slower), so timing noise earns nothing; correctness itself
  earns ``correct_weight`` only where the starting code was not already correct (from-description
  tasks); plus a small format term (usable code was found). A reply that is the starting code again
  (`afterburner.program.same_program`) is checked but not timed.
- `AfterburnerReward` (Du et al. 2025, after their released code, minus two slips; see docs/training.md):
  ``0.5 * improvement + 0.2 * format`` with ``improvement = correctness + 0.5 * tanh(clip((b-c)/b, -1, 1))``
  (efficiency only when correct) and correctness +0.5 both pass, +1.0 fixed, -1.0 broke, -0.5 both fail.

Candidates run in the sandbox in parallel: one `Sandbox` per process, created on first use and reused
across calls (``executor="ray"``: one per node of a Ray cluster, each candidate a `RewardJob` there);
a candidate that hangs or misbehaves costs its timeout and scores as a failure. The
starting code of each task (its baseline) is checked and measured once per process and cached; a
significant difference against that cache is confirmed by one interleaved comparison (drift guard).
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from afterburner.errors import ConfigError, SandboxError, TaskError
from afterburner.executor import EXECUTORS, LocalExecutor, get_executor
from afterburner.task import Task

__all__ = [
    "VERDICTS",
    "AfterburnerReward",
    "Outcome",
    "RewardJob",
    "SpeedupReward",
    "completion_text",
    "evaluate",
    "get_sandbox",
    "has_thinking_solution_layout",
    "make_reward",
    "outcome_shares",
]

log = logging.getLogger(__name__)

_LAYOUT_RE = re.compile(r"^\s*<thinking>.*?</thinking>\s*<solution>.*?</solution>\s*$", re.DOTALL)

# ---------------------------------------------------------------------------------------------------
# one sandbox per process, reused; baselines cached per task


_LOCK = threading.Lock()
_BASELINES: dict[tuple, Baseline] = {}
_BASELINE_LOCKS: dict[tuple, threading.Lock] = {}
_TASKS: dict[str, Task] = {}


def get_sandbox(workers: int | None = None, config: dict | None = None) -> Any:
    """The process's shared `Sandbox` for these settings (started on first use, closed at exit; on a Ray
    node, the node's: `afterburner.executor.node_sandbox`)."""
    from afterburner.executor import node_sandbox

    return node_sandbox(dict(config or {}), workers)


def _task(blob: str | dict | Task) -> Task:
    if isinstance(blob, Task):
        return blob
    if isinstance(blob, dict):
        return Task.from_dict(blob)
    task = _TASKS.get(blob)
    if task is None:
        task = _TASKS[blob] = Task.from_dict(json.loads(blob))
    return task


@dataclass(frozen=True)
class Baseline:
    """The starting code of a task: did it pass, and what did it cost."""

    code: str
    passed: bool
    measurement: Any = None  # afterburner.results.Measurement, when measured


VERDICTS = ("format_error", "unchanged", "wrong", "correct", "faster")


@dataclass(frozen=True)
class Outcome:
    """What running one completion produced (data for the reward formulas)."""

    extracted: bool  # usable code was found in the completion
    passed: bool  # it passed the task's tests
    status: str  # the sandbox status, or "format_error"
    baseline_passed: bool
    speedup: float | None = None  # median CPU(baseline) / median CPU(candidate)
    improved: bool = False  # significantly faster (CI lower bound above 1 + min_gain)
    slower: bool = False  # significantly slower (CI upper bound below 1 / (1 + min_gain))
    cost_base: float | None = None  # the chosen metric (time, memory, integral) of the baseline
    cost_new: float | None = None  # ... and of the candidate

    @property
    def verdict(self) -> str:
        """One of `VERDICTS`: format_error (no usable code), unchanged (the starting code again), wrong
        (any failure: wrong answer, crash, timeout, ...), correct (not significantly faster), faster
        (correct and significantly faster)."""
        if not self.extracted:
            return "format_error"
        if self.status == "unchanged":
            return "unchanged"
        if not self.passed:
            return "wrong"
        return "faster" if self.improved else "correct"


def completion_text(completion: str | Sequence[dict]) -> str:
    """The reply text of a completion: a string, or the last assistant message of a conversation."""
    if isinstance(completion, str):
        return completion
    for message in reversed(list(completion)):
        if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
            content = message.get("content", "")
            return content if isinstance(content, str) else str(content)
    return ""


def has_thinking_solution_layout(text: str) -> bool:
    """True when the reply is exactly ``<thinking>...</thinking><solution>...</solution>``."""
    return bool(_LAYOUT_RE.match(text))


def _cost(measurement: Any, metric: str) -> float | None:
    if measurement is None or not getattr(measurement, "ok", False):
        return None
    if metric == "time":
        stats = measurement.cpu_time_s
        return stats.median if stats and stats.n else None
    if metric == "memory":
        return measurement.peak_memory_bytes
    return measurement.integral


def _baseline(sb: Any, task: Task, repeats: int) -> Baseline:
    key = (os.getpid(), task.fingerprint(), repeats)
    with _LOCK:
        if key in _BASELINES:
            return _BASELINES[key]
        lock = _BASELINE_LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key in _BASELINES:
            return _BASELINES[key]
        code = task.code or task.reference or ""
        passed, measurement = False, None
        if code and task.has_workload:  # measure checks first; one call instead of two
            measurement = sb.measure(task, code, repeats=repeats)
            passed = bool(task.code) and measurement.ok
        elif task.code:
            passed = sb.check(task, task.code).passed
        base = _BASELINES[key] = Baseline(code, passed, measurement)
        return base


def _slower(comparison: Any, min_gain: float) -> bool:
    """Significantly slower: the interval's upper bound below 1 / (1 + min_gain)."""
    hi = comparison.speedup_ci[1]
    return hi is not None and not math.isnan(hi) and hi < 1 / (1 + min_gain)


def evaluate(
    sb: Any,
    task: Task,
    text: str,
    *,
    repeats: int = 3,
    min_gain: float = 0.05,
    metric: str = "time",
    interleaved: bool = False,
    confirm: bool = True,
) -> Outcome:
    """Extract, check and (when correct) measure one reply against the task's cached baseline.

    `interleaved`: always compare with the baseline in one interleaved run (twice the cost);
    `confirm`: only when the cached baseline says "significantly different", confirm that way.
    """
    from afterburner.llm.extract import code_from_reply
    from afterburner.measurement import compare_samples

    base = _baseline(sb, task, repeats)
    # put back into the starting module, as the optimizer does (a reply may be the function alone); a
    # reply that cannot be merged is run as it is
    reply = code_from_reply(text, task.code, task.entry_point)
    if not reply.extraction.ok or not reply.extraction.code.strip():
        return Outcome(False, False, "format_error", base.passed)
    code = reply.code
    # the start, dressed up: checked, not timed (a baseline that passed is the task's starting code)
    if base.passed and reply.unchanged:
        check = sb.check(task, code)
        if not check.passed:
            return Outcome(True, False, str(check.status), True)
        cost = _cost(base.measurement, metric)
        return Outcome(True, True, "unchanged", True, 1.0, cost_base=cost, cost_new=cost)
    measurable = bool(base.code) and task.has_workload
    if measurable and not interleaved:
        measurable = base.measurement is not None and base.measurement.ok
    if not measurable:
        check = sb.check(task, code)
        return Outcome(True, check.passed, str(check.status), base.passed)
    # measure/compare check correctness first (one check, not two): a failure comes back as the status
    if interleaved:
        comparison = sb.compare(task, base.code, code, repeats=repeats, min_gain=min_gain)
        status = comparison.b.status
    else:
        new = sb.measure(task, code, repeats=repeats)
        status = new.status
        comparison = compare_samples(base.measurement, new, min_gain=min_gain) if new.ok else None
        if confirm and comparison is not None and (comparison.improved or _slower(comparison, min_gain)):
            # against a cached baseline, drift (load, frequency) can look significant: confirm in one
            # interleaved run and keep that verdict
            comparison = sb.compare(task, base.code, code, repeats=repeats, min_gain=min_gain)
            status = comparison.b.status
    if comparison is None or str(status) != "passed":
        return Outcome(True, False, str(status), base.passed)
    speedup = comparison.speedup
    if speedup is None or math.isnan(speedup):
        return Outcome(True, True, str(status), base.passed)
    slower = _slower(comparison, min_gain)
    return Outcome(
        True,
        True,
        str(status),
        base.passed,
        float(speedup),
        bool(comparison.improved),
        slower,
        _cost(comparison.a, metric),
        _cost(comparison.b, metric),
    )


@dataclass(frozen=True)
class RewardJob:
    """One candidate evaluation, picklable: ``job((task, reply text)) -> Outcome | None`` (None: the
    sandbox failed, not the candidate), on the sandbox of the process (of the node, with Ray) it runs in."""

    repeats: int = 3
    min_gain: float = 0.05
    metric: str = "time"
    interleaved: bool = False
    confirm: bool = True
    workers: int | None = None
    sandbox: dict | None = None
    sandbox_factory: Callable[[], Any] | None = None

    def __call__(self, item: tuple[Any, str]) -> Outcome | None:
        blob, text = item
        task = _task(blob)
        sb = (
            self.sandbox_factory()
            if self.sandbox_factory is not None
            else get_sandbox(self.workers, self.sandbox)
        )
        try:
            return evaluate(
                sb,
                task,
                text,
                repeats=self.repeats,
                min_gain=self.min_gain,
                metric=self.metric,
                interleaved=self.interleaved,
                confirm=self.confirm,
            )
        except (SandboxError, TaskError) as e:  # not the candidate's fault: score nothing, keep training
            log.warning("no reward for a completion of %s: %s", task.name, e)
            return None


class _SandboxReward:
    """Shared machinery: parallel evaluation of a batch of completions; subclasses score an `Outcome`.

    ``executor="ray"`` spreads the evaluations of a batch over a Ray cluster (`ray_address`; None starts
    a local one), one `RewardJob` per completion on a node that keeps its sandbox and baselines warm.
    """

    __name__ = "sandbox_reward"

    def __init__(
        self,
        *,
        repeats: int = 3,
        min_gain: float = 0.05,
        workers: int | None = None,
        sandbox: dict | None = None,
        metric: str = "time",
        interleaved: bool = False,
        confirm: bool = True,
        sandbox_factory: Callable[[], Any] | None = None,
        executor: str = "local",
        ray_address: str | None = None,
    ) -> None:
        self.repeats = repeats
        self.min_gain = min_gain
        self.workers = workers
        self.sandbox = dict(sandbox or {})
        self.metric = metric
        self.interleaved = interleaved
        self.confirm = confirm
        self.sandbox_factory = sandbox_factory  # a picklable zero-argument callable (tests, custom setups)
        if executor not in EXECUTORS:
            raise ConfigError(f"reward executor {executor!r} is not one of {', '.join(EXECUTORS)}")
        self.executor = executor
        self.ray_address = ray_address
        self._cluster: Any = None  # the Ray executor, made on the first batch (not pickled)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_cluster": None}

    def job(self) -> RewardJob:
        return RewardJob(
            self.repeats, self.min_gain, self.metric, self.interleaved, self.confirm, self.workers,
            self.sandbox, self.sandbox_factory,
        )  # fmt: skip

    def outcomes(self, completions: Sequence[Any], task: Sequence[Any]) -> list[Outcome | None]:
        items = [(t, completion_text(c)) for t, c in zip(task, completions, strict=True)]
        if self.executor == "ray":
            if self._cluster is None:
                self._cluster = get_executor("ray", address=self.ray_address, per_node=self.workers)
                atexit.register(self._cluster.close)
            executor: Any = self._cluster
        else:
            executor = LocalExecutor(max(1, min(len(items), self.workers or os.cpu_count() or 1)))
        results = list(executor.map(self.job(), items))
        if results and all(r is None for r in results):
            raise SandboxError("the sandbox failed on every completion of the batch; see the warnings above")
        return results

    def score(self, outcome: Outcome, text: str) -> float:
        raise NotImplementedError

    def __call__(self, completions: Sequence[Any], task: Sequence[Any], **kwargs: Any) -> list[float | None]:
        outcomes = self.outcomes(completions, task)
        texts = [completion_text(c) for c in completions]
        rewards = [None if o is None else self.score(o, t) for o, t in zip(outcomes, texts, strict=True)]
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and outcomes:
            done = [o for o in outcomes if o is not None]
            for name, share in outcome_shares(done).items():
                log_metric(f"sandbox/{name}", share)
        return rewards


def outcome_shares(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """What the rewards log per batch (trl's ``log_metric``, as ``sandbox/NAME``): the share of the
    scored completions that passed, were significantly faster, were the starting code again, or had no
    usable code. {} for no outcomes.

    >>> outcome_shares([Outcome(True, True, "unchanged", True), Outcome(False, False, "format_error", True)])
    {'pass_rate': 0.5, 'improved_rate': 0.0, 'unchanged_rate': 0.5, 'format_error_rate': 0.5}
    """
    if not outcomes:
        return {}
    n = len(outcomes)
    return {
        "pass_rate": sum(o.passed for o in outcomes) / n,
        "improved_rate": sum(o.improved for o in outcomes) / n,
        "unchanged_rate": sum(o.status == "unchanged" for o in outcomes) / n,
        "format_error_rate": sum(not o.extracted for o in outcomes) / n,
    }


class SpeedupReward(_SandboxReward):
    """Our default: gate on correctness, log of the significant speedup, a small format term.

    Keeping the starting code correct earns nothing by itself: with a bonus for it (1.0 in an earlier
    version), the 0.5B policy learned within 100 steps to return the original with ``from typing
    import *`` added, a sure 1.1 against 0.1 for a failed attempt. Correctness pays ``correct_weight``
    only where there was no correct code to keep (a from-description task, or a broken start).

    >>> r = SpeedupReward()
    >>> round(r.score(Outcome(True, True, "passed", True, speedup=2.0, improved=True), ""), 4)
    0.7931
    >>> r.score(Outcome(True, True, "passed", True, speedup=1.03, improved=False), "")
    0.1
    >>> r.score(Outcome(True, True, "passed", False), "")  # written from a description: correct is the gain
    1.1
    >>> r.score(Outcome(True, False, "wrong_answer", True), "")
    0.1
    """

    __name__ = "speedup_reward"

    def __init__(
        self,
        *,
        format_weight: float = 0.1,
        correct_weight: float = 1.0,
        log_clip: tuple[float, float] = (-0.5, math.log(10.0)),
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.format_weight = format_weight
        self.correct_weight = correct_weight
        self.log_clip = (float(log_clip[0]), float(log_clip[1]))

    def score(self, outcome: Outcome, text: str) -> float:
        if not outcome.extracted:
            return 0.0
        reward = self.format_weight
        if not outcome.passed:
            return reward
        if not outcome.baseline_passed:
            reward += self.correct_weight
        if outcome.speedup and (outcome.improved or outcome.slower):
            lo, hi = self.log_clip
            reward += min(hi, max(lo, math.log(outcome.speedup)))
        return reward


class AfterburnerReward(_SandboxReward):
    """Du et al. (2025): ``0.5 * (correctness + 0.5 * efficiency if correct) + 0.2 * format``.

    >>> r = AfterburnerReward()
    >>> round(r.score(Outcome(True, True, "passed", True, cost_base=2.0, cost_new=1.0), "<thinking>t</thinking><solution>s</solution>"), 4)
    0.5655
    >>> r.score(Outcome(True, False, "wrong_answer", True), "no layout")
    -0.5
    """

    __name__ = "afterburner_reward"

    def score(self, outcome: Outcome, text: str) -> float:
        base, new = outcome.baseline_passed, outcome.passed
        correctness = {(True, True): 0.5, (False, True): 1.0, (True, False): -1.0, (False, False): -0.5}[
            (base, new)
        ]
        efficiency = 0.0
        b, c = outcome.cost_base, outcome.cost_new
        if new and b is not None and c is not None and b > 0:
            efficiency = math.tanh(min(1.0, max(-1.0, (b - c) / b)))
        improvement = correctness + (0.5 * efficiency if new else 0.0)
        fmt = 1.0 if has_thinking_solution_layout(text) else 0.0
        return 0.5 * improvement + 0.2 * fmt


def make_reward(name: str, **kw: Any) -> _SandboxReward:
    """A reward by name: ``speedup`` (default) or ``afterburner``."""
    classes = {"speedup": SpeedupReward, "afterburner": AfterburnerReward}
    if name not in classes:
        raise ConfigError(f"reward {name!r} is not one of {', '.join(classes)}")
    return classes[name](**kw)
