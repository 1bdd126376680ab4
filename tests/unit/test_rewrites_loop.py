"""The mechanical rewrites in the loop (stand-in sandbox, scripted model): tried in round 1 beside the
model's k candidates, recorded with their origin, counted apart from the model's; on by default only
for the default strategy."""

from __future__ import annotations

import json

from afterburner.agent.optimizer import Optimizer
from afterburner.agent.outcomes import count_outcomes, count_rewrite_outcomes
from afterburner.bench.report import outcome_table
from afterburner.cli import build_parser
from afterburner.task import Task
from afterburner.trajectory import read_trajectory
from tests.unit.fakes import FakeSandbox

# a branching pure recursion: functools_cache applies
ORIGINAL = """\
def ways(n):
    if n < 0:
        return 0
    if n == 0:
        return 1
    return ways(n - 1) + ways(n - 2)
"""
ECHO = f"```python\n{ORIGINAL}```\n"
WRONG = '```python\ndef ways(n):\n    _ = "# wrong"\n    return n\n```\n'
FAST = '```python\ndef ways(n):\n    _ = "# speed: 4"\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return b\n```\n'


def task() -> Task:
    return Task(name="ways", entry_point="ways", code=ORIGINAL, check_source="def check(c): pass\n")


def run(tmp_path, replies, **kw):
    opt = Optimizer(backend="scripted", replies=replies, sandbox=FakeSandbox(), out_dir=tmp_path, **kw)
    res = opt.run(task())
    return opt, res, read_trajectory(res.trajectory_path).steps


def test_round_one_tries_the_rewrite_beside_the_models_k_candidates(tmp_path):
    opt, res, steps = run(tmp_path, [WRONG, ECHO, FAST, FAST], candidates=2, rounds=2, patience=5)
    assert [(s["round"], s["index"], s["origin"]) for s in steps] == [
        (1, 0, "model"),
        (1, 1, "model"),
        (1, 2, "rewrite:functools_cache"),  # not one of the k = 2: an extra
        (2, 0, "model"),
        (2, 1, "model"),
    ]
    rewrite = steps[2]
    assert rewrite["messages"] is None and rewrite["completion"] == "" and rewrite["completion_tokens"] == 0
    assert "@functools.cache\ndef ways(n):" in rewrite["code"] and "functools.cache" in rewrite["why"]
    assert rewrite["status"] == "passed" and rewrite["outcome"] == "not_significant"  # the fake: same speed
    assert all(s["messages"] for s in steps if s["origin"] == "model")
    assert res.llm_calls == 2 and len(opt._get_backend().calls) == 2
    # the model's feedback speaks of the model's candidates only
    second = opt._get_backend().calls[1][-1]["content"]
    assert "round 1: 0/2 passed" in second


def test_a_round_where_only_the_rewrite_was_measured_does_not_use_up_patience(tmp_path):
    # round 1: the model echoes and errs, the rewrite is correct and not faster: that says nothing about
    # what the model can still find, so patience 1 lets round 2 run, and the model's code wins there
    _, res, steps = run(tmp_path, [ECHO, WRONG, FAST, WRONG], candidates=2, rounds=2, patience=1)
    assert [s["outcome"] for s in steps[:3]] == ["unchanged", "wrong", "not_significant"]
    assert res.rounds == 2 and res.stop_reason == "max_rounds" and "# speed: 4" in res.best_code


def test_no_rewrites_and_the_papers_strategies_have_none(tmp_path):
    for kw in ({"rewrites": False}, {"strategy": "afterburner"}, {"strategy": "baseline"}):
        out = tmp_path / str(kw.get("strategy"))
        _, _, steps = run(out, [ECHO, WRONG], rounds=1, cycle=True, **kw)
        assert {s["origin"] for s in steps} == {"model"}, kw


def test_rewrites_can_be_turned_on_for_the_papers_loop_and_its_feedback_stays_the_models(tmp_path):
    opt, _, steps = run(tmp_path, [WRONG, FAST], strategy="afterburner", rounds=2, rewrites=True)
    assert [s["origin"] for s in steps] == ["model", "rewrite:functools_cache", "model"]
    assert "Passed: False" in opt._get_backend().calls[1][-1]["content"]  # the model's wrong answer


def test_settings_record_the_choice_and_the_cli_flag_sets_it(tmp_path):
    _opt, res, _ = run(tmp_path, [ECHO], rounds=1, candidates=1, rewrites=False)
    meta = json.loads((tmp_path / res.run_id / "run.json").read_text())
    assert meta["settings"]["rewrites"] is False
    parser = build_parser()
    assert parser.parse_args(["optimize", "x.py::f", "--no-rewrites"]).rewrites is False
    assert parser.parse_args(["optimize", "x.py::f", "--rewrites"]).rewrites is True
    assert parser.parse_args(["optimize", "x.py::f"]).rewrites is None  # the strategy's default


def test_outcomes_count_the_model_and_each_rewrite_apart():
    steps = [
        {"status": "unchanged"},  # a version-1 step: no origin, the model's
        {"status": "wrong_answer", "origin": "model"},
        {"status": "passed", "origin": "rewrite:functools_cache", "comparison": {"improved": True}},
        {"status": "runtime_error", "origin": "rewrite:numba_njit"},
    ]
    model = count_outcomes(steps)
    assert sum(model.values()) == 2 and model["unchanged"] == 1 and model["wrong"] == 1
    per = count_rewrite_outcomes(steps)
    assert list(per) == ["rewrite:functools_cache", "rewrite:numba_njit"]
    assert per["rewrite:functools_cache"]["faster"] == 1 and per["rewrite:numba_njit"]["crash"] == 1
    table = outcome_table({"default": model}, {"default": per})
    lines = table.splitlines()
    assert lines[2].startswith("| default | 2 | 0 (0%) | 1 (50%) | 1 (50%) |")
    assert lines[3].startswith("| default: rewrite:functools_cache | 1 |")
    assert lines[4].startswith("| default: rewrite:numba_njit | 1 |") and len(lines) == 5


def test_training_reads_only_the_models_steps(tmp_path):
    from training.data import read_trajectories, sft_rows

    _, res, steps = run(tmp_path, [ECHO, WRONG], candidates=2, rounds=1)
    assert any(s["origin"] != "model" for s in steps)
    data = read_trajectories([res.trajectory_path])
    assert [s["origin"] for s in data.steps["ways"]] == ["model", "model"]
    assert sft_rows(data) == []  # nothing of the model's was better


def test_events_name_the_rewrites_origin(tmp_path):
    events = []
    opt = Optimizer(
        backend="scripted",
        replies=[ECHO, WRONG],
        sandbox=FakeSandbox(),
        out_dir=tmp_path,
        candidates=2,
        rounds=1,
    )
    opt.run(task(), on_event=lambda name, data: events.append((name, data)))
    evaluated = [d for n, d in events if n == "candidate_evaluated" and d["round"] == 1]
    assert [d.get("origin", "model") for d in sorted(evaluated, key=lambda d: d["index"])][-1] == (
        "rewrite:functools_cache"
    )
