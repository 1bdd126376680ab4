"""The bench summary says where every candidate went, per strategy (from the steps of each trajectory)."""

import json
from types import SimpleNamespace

from afterburner.bench import run_bench
from afterburner.bench.report import outcome_table
from afterburner.trajectory import TrajectoryWriter
from tests.unit.test_bench_runner import FakeSandbox, settings

TASK = """\
name: {name}
entry_point: f
code: |
  def f(x):
      cost = 4
      return x + 1
tests: |
  def check(candidate):
      assert candidate(1) == 2
"""

FASTER = {"speedup": 2.0, "speedup_ci": [1.8, 2.2], "improved": True}
SAME_SPEED = {"speedup": 1.01, "speedup_ci": [0.95, 1.07], "improved": False}
# the steps each strategy's (fake) run records, per task
STEPS = {
    "careful": [
        {"status": "passed", "comparison": FASTER},
        {"status": "passed", "comparison": SAME_SPEED},
        {"status": "wrong_answer"},
        {"status": "timeout"},
    ],
    "sloppy": [
        {"status": "format_error", "failure": "no code block defines f"},
        {"status": "format_error", "failure": "no code block in the completion"},
        {"status": "unchanged"},
        {"status": "runtime_error"},
    ],
}


def fake_optimize(task, *, strategy, trajectory, **kw):
    with TrajectoryWriter(trajectory) as w:
        w.write("run", task=task.to_dict(), strategy=strategy)
        for i, step in enumerate(STEPS[strategy]):
            w.write("step", round=1, index=i, **step)
    return SimpleNamespace(
        status="unchanged", original_code=task.code, best_code=task.code, rounds=1, stop_reason="max_rounds",
        rounds_best_code=[task.code], tokens_used=10, llm_calls=1, speedup=1.0, trajectory_path=trajectory,
    )  # fmt: skip


def test_summary_breaks_candidates_down_by_outcome_per_strategy(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    for name in ("t1", "t2"):
        (suite / f"{name}.yaml").write_text(TASK.format(name=name))
    out = tmp_path / "out"
    report = run_bench(
        suite,
        out,
        settings("careful", "sloppy"),
        sandbox=FakeSandbox(),
        optimize=fake_optimize,
        progress=False,
    )
    assert report.outcomes["careful"] == {
        "format_error": 0, "unchanged": 0, "wrong": 2, "crash": 0, "timeout": 2,
        "slower": 0, "not_significant": 2, "faster": 2,
    }  # fmt: skip
    assert report.outcomes["sloppy"]["format_error"] == 4 and sum(report.outcomes["sloppy"].values()) == 8
    summary = (out / "summary.md").read_text()
    assert "## Where the candidates went" in summary
    assert (
        "| strategy | candidates | format error | the code again | wrong | crash | timeout | slower "
        "| not significant | faster |" in summary
    )
    assert (
        "| careful | 8 | 0 (0%) | 0 (0%) | 2 (25%) | 0 (0%) | 2 (25%) | 0 (0%) | 2 (25%) | 2 (25%) |"
        in summary
    )
    assert "| sloppy | 8 | 4 (50%) | 2 (25%) | 0 (0%) | 2 (25%) |" in summary
    # each record keeps its own counts, so a resumed bench needs no trajectory to count them again
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert records[0]["strategy"] == "careful" and records[0]["outcomes"]["faster"] == 1


def test_records_without_counts_are_counted_from_their_trajectory(tmp_path):
    from afterburner.bench.evaluate import TaskRecord
    from afterburner.bench.runner import _sum_outcomes
    from afterburner.metrics import Point

    traj = tmp_path / "t.jsonl"
    with TrajectoryWriter(traj) as w:
        w.write("step", status="format_error")
        w.write("step", status="passed", comparison={"speedup": 0.5, "improved": False})
    old = TaskRecord("t", "default", "default", Point(True, "passed"), trajectory_path=str(traj))
    gone = TaskRecord("u", "default", "default", Point(True, "passed"), trajectory_path=str(tmp_path / "no"))
    counts = _sum_outcomes([old, gone])
    assert counts["format_error"] == 1 and counts["slower"] == 1 and sum(counts.values()) == 2


def test_outcome_table_with_no_candidates_shows_dashes():
    table = outcome_table({"default": dict.fromkeys(["format_error", "faster"], 0)})
    assert "| default | 0 | – | – |" in table


def test_mechanical_rewrites_get_their_own_lines_and_leave_the_models_counts_alone(tmp_path):
    def with_rewrites(task, *, strategy, trajectory, **kw):
        with TrajectoryWriter(trajectory) as w:
            w.write("run", task=task.to_dict(), strategy=strategy)
            w.write("step", round=1, index=0, origin="model", status="unchanged")
            w.write(
                "step", round=1, index=1, origin="rewrite:functools_cache", status="passed", comparison=FASTER
            )
        return SimpleNamespace(
            status="unchanged", original_code=task.code, best_code=task.code, rounds=1, stop_reason="max_rounds",
            rounds_best_code=[task.code], tokens_used=10, llm_calls=1, speedup=1.0, trajectory_path=trajectory,
        )  # fmt: skip

    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "t1.yaml").write_text(TASK.format(name="t1"))
    out = tmp_path / "out"
    report = run_bench(
        suite, out, settings("default"), sandbox=FakeSandbox(), optimize=with_rewrites, progress=False
    )
    assert sum(report.outcomes["default"].values()) == 1 and report.outcomes["default"]["unchanged"] == 1
    assert report.rewrite_outcomes["default"]["rewrite:functools_cache"]["faster"] == 1
    summary = (out / "summary.md").read_text()
    assert "| default | 1 | 0 (0%) | 1 (100%) |" in summary
    assert "| default: rewrite:functools_cache | 1 | 0 (0%) |" in summary and "(100%) |\n" in summary
    record = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    assert record["rewrite_outcomes"] == {
        "rewrite:functools_cache": report.rewrite_outcomes["default"]["rewrite:functools_cache"]
    }
