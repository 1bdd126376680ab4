"""Real limits for slow functions: --timeout lets a function that needs seconds per call be optimized,
the limit the original runs under names the option when it stops it, and without the option the
candidates' limit is picked from the original's runs. Real sandbox, scripted backend.

The function burns SECONDS of CPU per call (so each sandbox run of the tests and the workload takes
about 2 x SECONDS); the docs/report show the same with 15 s per call and --timeout 60.
"""

from __future__ import annotations

import json

import pytest

from afterburner.cli import main
from afterburner.trajectory import read_trajectory

pytestmark = pytest.mark.integration

SECONDS = 0.5
SLOW = f"""\
import time


def crunch(n):
    t0 = time.process_time()
    spins = 0
    while time.process_time() - t0 < {SECONDS}:  # about {SECONDS} s of CPU per call
        spins += 1
    return 2 * n
"""
FAST_REPLY = "```python\ndef crunch(n):\n    return 2 * n\n```\n"


@pytest.fixture
def target(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "tests.json").write_text(json.dumps([{"args": [3], "expected": 6}]))
    (tmp_path / "workload.json").write_text(json.dumps([[21]]))
    (tmp_path / "replies.json").write_text(json.dumps([FAST_REPLY]))
    return tmp_path


def optimize_argv(d, *extra):
    return [
        "optimize", f"{d / 'slow.py'}::crunch", "--tests", str(d / "tests.json"),
        "--workload", str(d / "workload.json"), "--backend", "scripted", "--replies", str(d / "replies.json"),
        "--rounds", "1", "--candidates", "1", "--repeats", "1", "--runs-dir", str(d / "runs"), "--json", *extra,
    ]  # fmt: skip


def test_a_slow_function_optimizes_with_timeout_and_the_limit_is_the_users(target, capsys):
    assert main(optimize_argv(target, "--timeout", "30", "--memory-limit", "2048")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "improved" and "return 2 * n" in out["best_code"]
    end = read_trajectory(out["trajectory"]).of_type("end")[-1]
    assert end["limits"]["timeout_s"] == 30.0 and end["limits"]["source"] == "option"
    assert end["limits"]["memory_bytes"] == 2048 << 20


def test_without_the_flag_the_candidates_limit_comes_from_the_original(target, capsys):
    assert main(optimize_argv(target)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "improved"
    limits = read_trajectory(out["trajectory"]).of_type("end")[-1]["limits"]
    assert limits["source"] == "original" and limits["original_run_s"] >= 2 * SECONDS * 0.9
    assert limits["timeout_s"] == max(10.0, round(5 * limits["original_run_s"], 1))


def test_a_limit_that_stops_the_original_names_the_flag(target, capsys, monkeypatch):
    # a user's --timeout too small for the original: one run is two calls, about 1 s
    assert main(optimize_argv(target, "--timeout", "0.5")) == 2
    err = capsys.readouterr().err
    assert "the original code ran past the time limit" in err and "wall-clock limit of 0.5 s" in err
    assert "--timeout SECONDS" in err and "error:" in err and "Traceback" not in err
    # without the flag the original gets a generous limit; here it is made smaller than the original's run
    monkeypatch.setattr("afterburner.agent.optimizer.ORIGINAL_TIMEOUT_S", 0.6)
    assert main(optimize_argv(target)) == 2
    err = capsys.readouterr().err
    assert "wall-clock limit of 0.6 s; give it more time with --timeout SECONDS" in err
