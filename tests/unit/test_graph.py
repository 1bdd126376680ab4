"""The loop with a stand-in sandbox (tests/unit/fakes.py) and the scripted backend: selection, stop
rules, feedback, strategies, events, interruption and resume."""

from __future__ import annotations

import pytest

from afterburner.agent.optimizer import Optimizer
from afterburner.errors import TaskError
from afterburner.task import Task
from afterburner.trajectory import read_trajectory
from tests.unit.fakes import FakeSandbox

ORIGINAL = """\
def dedupe(xs):
    seen = []
    out = []
    for x in xs:
        if x not in seen:
            seen.append(x)
            out.append(x)
    return out
"""


def fn(marker: str, body: str = "return list(dict.fromkeys(xs))") -> str:
    # the marker is a statement, not a comment: code that differs only in comments is the same program
    return f'```python\ndef dedupe(xs):\n    _ = "{marker}"\n    {body}\n```\n'


FAST = fn("# speed: 4")
FASTER = fn("# speed: 10")
SLOWER = fn("# speed: 0.5")
WRONG = fn("# wrong", "return xs")
NOISE = fn("# speed: 1.01")


@pytest.fixture
def task():
    return Task(name="dedupe", entry_point="dedupe", code=ORIGINAL, check_source="def check(c): pass\n")


def run(task, tmp_path, replies, **kw):
    events = kw.pop("events", None)
    on_event = (lambda name, data: events.append((name, data))) if events is not None else None
    opt = Optimizer(backend="scripted", replies=replies, sandbox=FakeSandbox(), out_dir=tmp_path, **kw)
    return opt, opt.run(task, on_event=on_event)


def test_faster_correct_candidate_wins_and_wrong_or_slower_ones_are_rejected(task, tmp_path):
    _opt, res = run(task, tmp_path, [WRONG, SLOWER, FAST, NOISE] + [SLOWER] * 8, candidates=4, rounds=4)
    assert res.status == "improved" and res.improved
    assert "# speed: 4" in res.best_code and "def dedupe" in res.best_code
    assert res.speedup == pytest.approx(4.0, rel=0.01) and res.speedup_ci[0] > 1.05
    assert res.stop_reason == "patience" and res.rounds == 3  # rounds 2 and 3 found nothing better
    assert [("# speed: 4" in c) for c in res.rounds_best_code] == [True, True, True]
    traj = read_trajectory(res.trajectory_path)
    assert traj.broken_lines == 0 and traj.run["strategy"] == "default"
    assert len(traj.steps) == 12
    first = traj.steps[:4]
    assert [s["status"] for s in first] == ["wrong_answer", "passed", "passed", "passed"]
    assert [s["accepted"] for s in first] == [False, False, True, False]
    assert first[0]["messages"][-1]["role"] == "user" and first[0]["completion"] == WRONG
    assert traj.end["status"] == "improved" and traj.end["speedup"] == pytest.approx(4.0, rel=0.01)


def test_nothing_better_returns_the_original_unchanged(task, tmp_path):
    _, res = run(task, tmp_path, [SLOWER, WRONG, NOISE, "no code here"], candidates=2, rounds=2, patience=5)
    assert res.status == "unchanged" and not res.improved
    assert res.best_code == ORIGINAL and res.speedup == 1.0
    assert res.stop_reason == "max_rounds" and res.rounds_best_code == [ORIGINAL, ORIGINAL]


def test_the_original_dressed_up_is_unchanged_and_never_run(task, tmp_path):
    dressed = "```python\nfrom typing import *\n\n# Plan: it is fine as it is\n" + ORIGINAL + "```\n"
    opt, res = run(task, tmp_path, [dressed, FAST], candidates=2, rounds=1)
    steps = read_trajectory(res.trajectory_path).steps
    assert [s["status"] for s in steps] == ["unchanged", "passed"]
    assert not [c for c in opt.sandbox.calls if "typing" in str(c)]  # no check, no measurement
    assert res.status == "improved" and "# speed: 4" in res.best_code


def test_rounds_of_echoes_and_failures_do_not_use_up_patience(task, tmp_path):
    echo = "```python\n# Plan: keep it\n" + ORIGINAL + "```\n"
    # rounds 1 and 2 measure nothing new (an echo, a wrong answer, no code): round 3 still runs and wins
    replies = [echo, WRONG, echo, "no code", FAST, SLOWER, SLOWER, SLOWER]
    opt, res = run(task, tmp_path, replies, candidates=2, rounds=6, patience=1)
    assert res.status == "improved" and "# speed: 4" in res.best_code
    assert [("# speed: 4" in c) for c in res.rounds_best_code] == [False, False, True, True]
    assert res.stop_reason == "patience" and res.rounds == 4  # round 4's measured SLOWER code used it up
    second = opt._get_backend().calls[1][-1]["content"]
    assert "returned the code unchanged" in second and "is rejected: change the algorithm" in second


def test_patience_counts_rounds_whose_correct_new_code_was_not_faster(task, tmp_path):
    _, res = run(task, tmp_path, [SLOWER, WRONG] * 4, candidates=2, rounds=4, patience=2)
    assert res.stop_reason == "patience" and res.rounds == 2


def test_refine_prompt_carries_measured_feedback(task, tmp_path):
    opt, _res = run(task, tmp_path, [WRONG, SLOWER, SLOWER, SLOWER], candidates=2, rounds=2, patience=5)
    prompts = opt._get_backend().calls
    assert len(prompts) == 2
    first, second = prompts[0][-1]["content"], prompts[1][-1]["content"]
    assert "def dedupe(xs)" in first and "```python" in first
    # the first round already names the original's measured hot line and its remedy
    assert "if x not in seen:" in first and "80%" in first and "membership in the set" in first
    assert "Measured on the workload" not in first  # no ratio of the original to itself
    assert "if x not in seen:" in second and "80%" in second  # the hot line and its measured share
    assert (
        "set(seen)" in second and "membership in the set" in second
    )  # the remedy for membership in a list on that hot line
    assert "wrong answer" in second and "expected: []" in second  # last round's failure
    assert "round 1: 1/2 passed" in second  # history


def test_with_a_problem_statement_half_the_candidates_are_written_without_the_code(task, tmp_path):
    described = Task(**{**task.__dict__, "description": "Return xs without repeats, first seen first."})
    # round 1: the refine candidate is no faster, the fresh one is 4x; round 2: the fresh one 10x
    opt, res = run(described, tmp_path, [fn("x", "pass"), FAST, SLOWER, FASTER], candidates=2, rounds=2)
    assert res.status == "improved" and "# speed: 10" in res.best_code
    calls = opt._get_backend().calls
    assert len(calls) == 4  # per round: the refine prompt, then the fresh prompt (one batched call)
    refine, fresh = calls[0][-1]["content"], calls[1][-1]["content"]
    assert "if x not in seen:" in refine and "Where its time goes" in refine
    assert "first seen first" in fresh and "seen.append" not in fresh and "from the problem" in fresh
    assert "round 1: 2/2 passed" in calls[2][-1]["content"]  # the refine prompt counts the fresh one
    assert '"# speed: 4"' in calls[2][-1]["content"] and "speed" not in calls[3][-1]["content"]
    steps = read_trajectory(res.trajectory_path).steps
    assert [s["fresh"] for s in steps] == [False, True, False, True]
    assert [s["accepted"] for s in steps] == [False, True, False, True]
    assert steps[1]["messages"] == calls[1]  # each step records the prompt its completion answered
    assert res.llm_calls == 2


def test_without_a_problem_statement_every_candidate_sees_the_code(task, tmp_path):
    opt, _res = run(task, tmp_path, [SLOWER, FAST], candidates=2, rounds=1)
    [call] = opt._get_backend().calls  # one prompt, sampled twice
    assert "seen.append" in call[-1]["content"]


def test_afterburner_strategy_one_candidate_paper_feedback_greedy(task, tmp_path):
    paper_fast = f"<thinking>A dict keeps order.</thinking>\n<solution>\n{FAST}</solution>\ntrailing talk"
    opt, res = run(task, tmp_path, [NOISE, WRONG, paper_fast], strategy="afterburner", rounds=3, patience=1)
    assert res.rounds == 3 and res.stop_reason == "max_rounds"  # no patience
    assert "# speed: 4" in res.best_code
    assert "# speed: 1.01" in res.rounds_best_code[0]  # greedy: faster by the median is enough
    prompts = opt._get_backend().calls
    assert all(len(c) == 2 for c in prompts)
    assert "<thinking>" in prompts[0][0]["content"]
    assert "Passed: True, Time:" in prompts[1][-1]["content"] and "Integral:" in prompts[1][-1]["content"]
    assert "Passed: False" in prompts[2][-1]["content"]
    last = read_trajectory(res.trajectory_path).steps[-1]
    assert last["completion"].endswith("</solution>") and last["accepted"]  # cut at the stop string


def test_baseline_strategy_makes_all_calls_in_one_round(task, tmp_path):
    _opt, res = run(
        task,
        tmp_path,
        [SLOWER, FAST, WRONG, FASTER, SLOWER, NOISE],
        strategy="baseline",
        rounds=3,
        candidates=2,
    )
    assert res.rounds == 1 and res.llm_calls == 1 and "# speed: 10" in res.best_code
    assert "Where its time goes" not in _opt._get_backend().calls[0][-1]["content"]  # no feedback at all
    assert len(read_trajectory(res.trajectory_path).steps) == 6


def test_target_speedup_and_token_budget_stop(task, tmp_path):
    _, res = run(task, tmp_path / "a", [FASTER, SLOWER], candidates=2, rounds=4, target_speedup=5)
    assert res.stop_reason == "target_speedup" and res.rounds == 1
    _, res = run(task, tmp_path / "b", [SLOWER] * 8, candidates=2, rounds=4, patience=9, token_budget=1)
    assert res.stop_reason == "token_budget" and res.rounds == 1 and res.tokens_used > 1


def test_events_are_emitted_in_order(task, tmp_path):
    events: list = []
    run(task, tmp_path, [FAST, SLOWER, SLOWER, SLOWER], candidates=2, rounds=2, events=events)
    names = [n for n, _ in events]
    one_round = ["round_started", "generated", "candidate_evaluated", "candidate_evaluated"]
    assert names == [
        "loading_model",
        "started",
        "original_measured",
        *one_round,
        "best_improved",
        "round_finished",
        *one_round,
        "round_finished",
        "finished",
    ]
    verdicts = [d for n, d in events if n == "candidate_evaluated"]
    assert sorted((d["round"], d["index"], d["candidates"]) for d in verdicts) == [
        (1, 0, 2),
        (1, 1, 2),
        (2, 0, 2),
        (2, 1, 2),
    ]
    [first] = [d for d in verdicts if (d["round"], d["index"]) == (1, 0)]  # FAST
    assert first["outcome"] == "faster" and first["speedup"] > 1


def test_original_failing_its_tests_is_a_clear_error(tmp_path):
    bad = Task(
        name="bad", entry_point="dedupe", code=ORIGINAL + "# wrong\n", check_source="def check(c): pass\n"
    )
    with pytest.raises(TaskError, match="original code fails its own tests"):
        run(bad, tmp_path, [FAST])


def test_interrupt_then_resume_continues_the_same_run(task, tmp_path):
    def stop_in_round_2(name, data):
        if name == "round_started" and data["round"] == 2:
            raise KeyboardInterrupt

    replies = [FAST, SLOWER, FASTER, SLOWER, SLOWER, SLOWER]
    opt = Optimizer(
        backend="scripted",
        replies=replies,
        sandbox=FakeSandbox(),
        out_dir=tmp_path,
        candidates=2,
        rounds=3,
        patience=5,
    )
    res = opt.run(task, on_event=stop_in_round_2)
    assert res.status == "interrupted" and res.stop_reason == "interrupted"
    assert res.rounds == 1 and "# speed: 4" in res.best_code  # the best so far is kept
    run_id = res.run_id

    replies2 = [FASTER, SLOWER, SLOWER, SLOWER]  # a fresh backend process: round 2 onwards
    opt2 = Optimizer(backend="scripted", replies=replies2, sandbox=FakeSandbox(), out_dir=tmp_path)
    res2 = opt2.run(resume=run_id)
    assert res2.run_id == run_id and res2.rounds == 3 and res2.stop_reason == "max_rounds"
    assert "# speed: 10" in res2.best_code and res2.speedup == pytest.approx(10, rel=0.01)
    assert len(res2.rounds_best_code) == 3
    traj = read_trajectory(res2.trajectory_path)
    assert [r["type"] for r in traj.records].count("run") == 2
    assert [s["round"] for s in traj.steps] == [1, 1, 2, 2, 3, 3]
    assert [e["status"] for e in traj.of_type("end")] == ["interrupted", "improved"]


def test_interrupt_while_evaluating_resumes_without_asking_the_model_again(task, tmp_path):
    def stop_on_first_evaluation(name, data):
        if name == "candidate_evaluated":
            raise KeyboardInterrupt

    opt = Optimizer(
        backend="scripted",
        replies=[FAST, SLOWER],
        sandbox=FakeSandbox(),
        out_dir=tmp_path,
        candidates=2,
        rounds=1,
    )
    res = opt.run(task, on_event=stop_on_first_evaluation)
    assert res.status == "interrupted" and res.best_code == ORIGINAL and res.llm_calls == 1
    opt2 = Optimizer(backend="scripted", replies=["unused"], sandbox=FakeSandbox(), out_dir=tmp_path)
    res2 = opt2.run(resume=res.run_id)
    assert opt2._get_backend().calls == []  # round 1's completions came from the checkpoint
    assert res2.status == "improved" and "# speed: 4" in res2.best_code and res2.rounds == 1


def test_time_budget_stops_after_the_round_that_spent_it(task, tmp_path):
    _, res = run(task, tmp_path, [SLOWER] * 8, candidates=2, rounds=4, patience=9, time_budget=0.0)
    assert res.stop_reason == "time_budget" and res.rounds == 1


def test_memory_goal_accepts_leaner_code_that_time_goal_rejects(task, tmp_path):
    leaner = fn("# mem: 0.5")
    _, res = run(task, tmp_path / "m", [leaner, SLOWER], candidates=2, rounds=1, goal="memory")
    assert res.status == "improved" and "# mem: 0.5" in res.best_code
    assert res.memory_ratio == pytest.approx(0.5) and res.improved
    _, res = run(task, tmp_path / "t", [leaner, SLOWER], candidates=2, rounds=1, goal="time")
    assert res.status == "unchanged" and res.best_code == ORIGINAL


def test_two_runs_of_one_task_at_once_do_not_share_a_run(task, tmp_path):
    _, a = run(task, tmp_path, [FAST, SLOWER], candidates=2, rounds=1)
    _, b = run(task, tmp_path, [SLOWER, SLOWER], candidates=2, rounds=1)
    assert a.run_id != b.run_id and a.status == "improved" and b.status == "unchanged"


class CalleeProfileSandbox(FakeSandbox):
    """The profile of `lu_solve(lu, b)` says 40% of its time went to numpy's finite check."""

    def measure(self, task, code, repeats=None, profile=False, **checked):
        from dataclasses import replace

        from afterburner.results import Profile

        m = super().measure(task, code, repeats, profile, **checked)
        if not profile:
            return m
        inner = "numpy.lib._function_base_impl.asarray_chkfinite"
        line = {"line": 4, "share": 0.9, "code": "    return lu_solve(lu, b)", "function": "f"}
        call = {"line": 4, "function": "f", "callee": "lu_solve", "inner": inner, "share": 0.4}
        return replace(m, profile=Profile((), (line,), 100, (call,)))


def test_the_prompt_names_a_remedy_that_only_the_callee_measurement_shows(tmp_path):
    code = "from scipy.linalg import lu_solve\n\ndef f(lu, b):\n    return lu_solve(lu, b)\n"
    t = Task(name="solve", entry_point="f", code=code, check_source="def check(c): pass\n")
    opt = Optimizer(
        backend="scripted", replies=[fn("# speed: 1")], sandbox=CalleeProfileSandbox(), out_dir=tmp_path,
        rounds=1, candidates=1,
    )  # fmt: skip
    opt.run(t)
    first = opt._get_backend().calls[0][-1]["content"]
    assert "check_finite=False" in first and "asarray_chkfinite" in first


def test_a_reply_that_dropped_a_setup_line_gets_it_back_before_the_sandbox(tmp_path):
    original = 'def total(xs):\n    ys = list(xs)\n    _ = "# speed: 1"\n    return sum(y for y in ys)\n'
    task = Task(name="total", entry_point="total", code=original, check_source="def check(c): pass\n")
    dropped = '```python\ndef total(xs):\n    _ = "# speed: 3"\n    return sum(ys)\n```\n'
    opt = Optimizer(
        backend="scripted", replies=[dropped], sandbox=FakeSandbox(), out_dir=tmp_path, rounds=1, candidates=1
    )
    res = opt.run(task)
    assert res.improved and "    ys = list(xs)\n" in res.best_code
    [step] = [s for s in read_trajectory(res.trajectory_path).steps if s["origin"] == "model"]
    assert step["restored"] == ["ys"] and step["accepted"]
