"""Check once: a candidate's passed check goes with it into its comparison, the best's into the next
round's and the final one, and the winner's figures are its comparison's (no measurement of its own)."""

from __future__ import annotations

import inspect

from afterburner.agent.optimizer import Optimizer
from afterburner.agent.state import LoopSandbox
from afterburner.sandbox import Sandbox
from afterburner.task import Task
from afterburner.trajectory import read_trajectory
from tests.unit.fakes import FakeSandbox
from tests.unit.test_graph import ORIGINAL, fn

FAST, FASTER = fn("# speed: 2"), fn("# speed: 4")


def optimize(task: Task, tmp_path, replies: list[str], **kw) -> tuple[FakeSandbox, object]:
    sandbox = FakeSandbox()
    opt = Optimizer(
        backend="scripted", replies=replies, sandbox=sandbox, out_dir=tmp_path, rewrites=False, **kw
    )
    return sandbox, opt.run(task)


def task(**kw) -> Task:
    return Task(name="dedupe", entry_point="dedupe", code=ORIGINAL, check_source="def check(c): pass\n", **kw)


def test_every_program_is_checked_once_across_rounds_and_the_final_comparison(tmp_path):
    sandbox, res = optimize(task(), tmp_path, [FAST, FASTER], rounds=2, candidates=1)
    assert res.status == "improved" and "# speed: 4" in res.best_code and res.improved
    first, second = res.rounds_best_code  # the merged modules: what the sandbox was given
    assert "# speed: 2" in first and second == res.best_code
    # the original: checked before its measurement; round 1's best, compared in round 2 as side A, and
    # the final comparison of the original against the best, all on their first check
    assert [sandbox.checks_of(code) for code in (ORIGINAL, first, second)] == [1, 1, 1]
    compares = [c[1:] for c in sandbox.calls if c[0] == "compare"]
    assert compares == [(ORIGINAL, first), (first, second), (ORIGINAL, second)]


def test_the_winner_is_not_measured_again_its_comparison_is_its_figures(tmp_path):
    sandbox, res = optimize(task(), tmp_path, [FAST, FASTER], rounds=2, candidates=1)
    measured = [c[1:] for c in sandbox.calls if c[0] == "measure"]
    assert measured == [(ORIGINAL, True)]  # the original's profiled measurement, and nothing else
    steps = read_trajectory(res.trajectory_path).steps
    assert res.best.to_dict() == steps[-1]["comparison"]["b"]  # the new best is its comparison's B side
    assert res.best.profile is not None and res.best.profile.lines  # which carries the hot lines
    assert [s["accepted"] for s in steps] == [True, True]


def test_a_winner_measured_alone_without_a_profile_is_profiled_but_not_checked_again(tmp_path):
    described = task(description="Return xs without repeats, first seen first.")
    written = described.with_code("")
    sandbox, res = optimize(written, tmp_path, [FAST, FASTER], rounds=2, candidates=1)
    assert res.status == "improved" and "# speed: 4" in res.best_code
    first, second = res.rounds_best_code
    measured = [c[1:] for c in sandbox.calls if c[0] == "measure"]
    # round 1's candidate, with no best to race, is measured alone (no profile), then profiled once for
    # the feedback as the new best; round 2's is compared with it
    assert measured == [(first, False), (first, True)]
    assert [c[1:] for c in sandbox.calls if c[0] == "compare"] == [(first, second)]
    assert [sandbox.checks_of(code) for code in (first, second)] == [1, 1]


def test_the_sandbox_and_the_stand_in_take_what_the_loop_gives_them():
    for sandbox in (Sandbox, FakeSandbox):
        for name in ("check", "measure", "compare"):
            given = inspect.signature(getattr(LoopSandbox, name)).parameters
            taken = inspect.signature(getattr(sandbox, name)).parameters
            assert [p for p in given if p not in taken] == [], (sandbox, name)
