"""The optimizer's settings, spelled once: `Settings`, one frozen dataclass with a help line per field.

Everything else is derived from it: the keyword options of `Optimizer(...)` / `optimize(...)` (a field's
name, or its ``option`` spelling: ``timeout=`` for `timeout_s`), the command line's flags
(`afterburner.cli.options.add_settings_args`: ``--timeout``, its help and default), the validation (one
`__post_init__`, one line per bad value) and the ``settings`` of a run's trajectory and run.json
(`to_dict` / `from_dict`). A new setting is one new field here.

``rounds`` and ``candidates`` may be None (the strategy's); `resolved` fills them in for a strategy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from afterburner.errors import ConfigError

__all__ = ["GOALS", "Settings", "check_goal", "option_name"]

GOALS = ("time", "memory", "both")


def check_goal(goal: str) -> None:
    """A ConfigError unless `goal` is one of `GOALS` (the prompts check it too)."""
    if goal not in GOALS:
        raise ConfigError(f"goal {goal!r} is not one of {', '.join(GOALS)}")


def _at_least(low: int) -> Callable[[Any], str]:
    return lambda v: "" if v >= low else f"must be at least {low}, got {v}"


def _positive(v: Any) -> str:
    return "" if v > 0 and math.isfinite(v) else f"must be positive, got {v}"


def _goal(v: Any) -> str:
    return "" if v in GOALS else f"{v!r} is not one of {', '.join(GOALS)}"


def _setting(default: Any, help: str, check: Callable[[Any], str] | None = None, **cli: Any) -> Any:
    """A field: its default, its help (the CLI's too), its check (a message, "" when fine) and how the
    command line spells it (``option``: the keyword and flag name when it differs from the field's;
    ``metavar``, ``choices``; ``cli=False``: no flag)."""
    return field(default=default, metadata={"help": help, "check": check, **cli})


@dataclass(frozen=True)
class Settings:
    """Per-run settings of the optimizer (recorded in the trajectory's run record and in run.json).

    The fields are in the order ``afterburner optimize --help`` lists their flags.
    """

    rounds: int | None = _setting(
        None, "maximum rounds (default: the strategy's: {rounds_by_strategy})", _at_least(1)
    )
    candidates: int | None = _setting(
        None, "candidates per round (default: the strategy's: {candidates_by_strategy})", _at_least(1)
    )
    patience: int | None = _setting(
        2,
        "stop after P rounds in which correct new code was measured and none was significantly faster "
        "(default: %(default)s; the afterburner and baseline strategies do not use it)",
        _at_least(0),
    )
    goal: str = _setting(
        "time",
        "what to make smaller: CPU time, peak memory, or both (default: %(default)s)",
        _goal,
        choices=GOALS,
    )
    target_speedup: float | None = _setting(
        None, "stop once the best is this many times faster (default: no target)", _positive
    )
    time_budget_s: float | None = _setting(
        None, "stop after this many seconds of work (default: no budget)", _at_least(0), option="time_budget"
    )
    token_budget: int | None = _setting(
        None, "stop after this many tokens, prompts and completions (default: no budget)", _at_least(0)
    )
    max_new_tokens: int = _setting(
        512, "at most this many new tokens per reply (default: %(default)s)", _at_least(1)
    )
    temperature: float = _setting(
        0.7, "sampling temperature; 0 decodes greedily (default: %(default)s)", _at_least(0)
    )
    seed: int | None = _setting(
        None,
        "seed of the sampling, for repeatable replies (round r uses SEED + r) (default: none: new replies "
        "every run)",
    )
    repeats: int | None = _setting(
        None,
        "timed runs per measurement (default: adaptive, 5 to 30 runs, about 1.5 s of CPU time)",
        _at_least(1),
    )
    rewrites: bool | None = _setting(
        None,
        "also try mechanical rewrites of the original in round 1 (functools.cache, hoisted invariant calls, "
        "numba.njit) (default: on for the default strategy, off for afterburner and baseline)",
    )
    timeout_s: float | None = _setting(
        None,
        "wall-clock limit of one sandbox run (all the tests' or the workload's inputs) (default: the "
        "original runs under 300 s, then every run under max(10 s, 5 x the original's longest run))",
        _positive,
        option="timeout",
        metavar="SECONDS",
        unit="seconds",
    )
    memory_limit_mib: int | None = _setting(
        None,
        "address-space limit of one sandbox run, MiB (default: 4096)",
        _positive,
        option="memory_limit",
        metavar="MIB",
        unit="MiB",
    )
    min_gain: float = _setting(
        0.05, "the least gain a candidate must show to count as better (0.05: 5%)", _at_least(0), cli=False
    )
    top_p: float = _setting(
        0.95, "nucleus sampling: the share of probability mass sampled from", _positive, cli=False
    )

    def __post_init__(self) -> None:
        bad = []
        for f in fields(self):
            value, check = getattr(self, f.name), f.metadata["check"]
            problem = check(value) if check is not None and value is not None else ""
            if problem:
                unit = f" ({f.metadata['unit']})" if "unit" in f.metadata else ""
                bad.append(f"{option_name(f)}{unit} {problem}")
        if bad:
            raise ConfigError("\n".join(bad))

    # -- spellings ---------------------------------------------------------------------------------------
    @classmethod
    def options(cls) -> dict[str, str]:
        """Every keyword spelling -> its field: the field's own name and its ``option`` name."""
        out = {}
        for f in fields(cls):
            out[f.name] = out[option_name(f)] = f.name
        return out

    @classmethod
    def split(cls, options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the settings among keyword `options`, by field name; the rest)."""
        names = cls.options()
        mine = {names[k]: v for k, v in options.items() if k in names}
        return mine, {k: v for k, v in options.items() if k not in names}

    def with_options(self, **options: Any) -> Settings:
        """A copy with settings given by any of their spellings (``timeout=`` or ``timeout_s=``)."""
        mine, rest = self.split(options)
        if rest:
            raise ConfigError(f"not a setting: {', '.join(sorted(rest))}")
        return replace(self, **mine) if mine else self

    def resolved(self, strategy: Any) -> Settings:
        """The settings a run of `strategy` uses: its rounds and candidates where these are None (a
        single-round strategy takes rounds x candidates in one round), no patience where it has none.
        Resolving twice changes nothing."""
        rounds = self.rounds or strategy.rounds
        k = self.candidates or strategy.candidates
        if strategy.single_round:
            rounds, k = 1, rounds * k
        patience = self.patience if strategy.use_patience else None
        return replace(self, rounds=rounds, candidates=k, patience=patience)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        """From `to_dict` (a run.json's or a trajectory's); keys of settings that are gone are ignored."""
        mine, _gone = cls.split(data)  # e.g. "parallel", recorded by older runs and never set
        return cls(**mine)


def option_name(f: Any) -> str:
    """The keyword (and flag) name of a `Settings` field."""
    return f.metadata.get("option", f.name)
