"""The optimizer's settings, spelled once: afterburner.settings.Settings, its keywords, flags and checks."""

from __future__ import annotations

import pytest

from afterburner.agent.optimizer import Optimizer
from afterburner.agent.strategies import STRATEGIES
from afterburner.cli import build_parser
from afterburner.cli.options import settings_from_args
from afterburner.errors import ConfigError
from afterburner.settings import Settings


def test_every_bad_value_gets_one_line():
    with pytest.raises(ConfigError) as e:
        Settings(rounds=0, timeout_s=-1.0, goal="speed")
    assert str(e.value).splitlines() == [
        "rounds must be at least 1, got 0",
        "goal 'speed' is not one of time, memory, both",
        "timeout (seconds) must be positive, got -1.0",
    ]


def test_keywords_by_field_name_or_option_name_and_the_rest_go_to_the_backend():
    opt = Optimizer(backend="scripted", replies=["x"], timeout=5.0, memory_limit_mib=512, rounds=2)
    assert (opt.settings.timeout_s, opt.settings.memory_limit_mib, opt.settings.rounds) == (5.0, 512, 2)
    assert opt.backend_options == {"replies": ["x"]}
    base = Settings(seed=3, candidates=2)
    assert Optimizer(backend="scripted", settings=base, candidates=3).settings.seed == 3
    assert Optimizer(backend="scripted", settings=base, candidates=3).settings.candidates == 3
    with pytest.raises(ConfigError, match="not a setting: nope"):
        Settings().with_options(nope=1)


def test_resolved_takes_the_strategys_defaults_and_resolving_twice_changes_nothing():
    baseline = Settings().resolved(STRATEGIES["baseline"])
    assert (baseline.rounds, baseline.candidates, baseline.patience) == (1, 16, None)
    assert baseline.resolved(STRATEGIES["baseline"]) == baseline
    assert Settings(rounds=2).resolved(STRATEGIES["afterburner"]).candidates == 1


def test_a_recorded_setting_that_is_gone_is_ignored_when_resuming():
    recorded = {**Settings(rounds=2, candidates=1).to_dict(), "parallel": None}
    assert Settings.from_dict(recorded) == Settings(rounds=2, candidates=1)


def test_the_optimize_flags_read_back_into_settings():
    args = build_parser().parse_args(
        [
            "optimize",
            "x.py::f",
            "--timeout",
            "3",
            "--memory-limit",
            "256",
            "--no-rewrites",
            "--goal",
            "memory",
        ]
    )
    s = settings_from_args(args)
    assert (s.timeout_s, s.memory_limit_mib, s.rewrites, s.goal, s.patience) == (3.0, 256, False, "memory", 2)
    bench = build_parser().parse_args(["bench", "suite", "--rounds", "3", "--timeout", "2"])
    assert (bench.rounds, bench.timeout, bench.candidates) == (3, 2.0, None)
