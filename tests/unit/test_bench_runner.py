"""The benchmark runner with a stand-in sandbox and optimizer: interleaving, metrics, resumption, files."""

import json
import re
import threading
import time
from types import SimpleNamespace

import pytest

from afterburner.bench import BenchSettings, read_records, run_bench
from afterburner.errors import ConfigError
from afterburner.results import CheckResult, Status

TASK = """\
name: {name}
entry_point: f
code: |
  def f(x):
      cost = 4
      return x + 1
reference: |
  def f(x):
      cost = 1
      return 1 + x
tests: |
  def check(candidate):
      assert candidate(1) == 2
"""


def cost(code: str) -> float:
    return float(re.search(r"cost = (\d+)", code).group(1))


class FakeSandbox:
    """check: wrong when the code says WRONG; compare: speedup = cost(a) / cost(b), tight interval."""

    def __init__(self, delay: float = 0.0):
        self.delay, self.active, self.max_active, self.compares = delay, 0, 0, 0
        self.lock = threading.Lock()

    def check(self, task, code):
        wrong = "WRONG" in code or "x + 2" in code  # t4's own code fails its tests
        return CheckResult(Status.WRONG_ANSWER if wrong else Status.PASSED)

    def compare(self, task, a, b, repeats=None, min_gain=0.05, checked_a=None, checked_b=None):
        with self.lock:
            self.active += 1
            self.compares += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(self.delay)
        with self.lock:
            self.active -= 1
        s = cost(a) / cost(b)
        mk = lambda c: SimpleNamespace(integral=10.0 * cost(c))  # noqa: E731
        return SimpleNamespace(speedup=s, speedup_ci=(0.97 * s, 1.03 * s), memory_ratio=1.0, a=mk(a), b=mk(b))


FAST = "def f(x):\n    cost = 1\n    return x + 1\n"
FASTER = "def f(x):\n    cost = 2\n    return x + 1\n"


class FakeOptimize:
    """'fast': round 1 finds cost 2, round 2 cost 1; 'same': keeps the original; 'wrong': returns WRONG code."""

    def __init__(self, fail_on: str | None = None):
        self.calls, self.fail_on = [], fail_on

    def __call__(self, task, *, strategy, backend, **kw):
        self.calls.append((task.name, strategy))
        if task.name == self.fail_on:
            raise RuntimeError("the backend fell over")
        rounds = {
            "fast": [FASTER, FAST],
            "same": [task.code, task.code],
            "wrong": ["def f(x):\n    cost = 1  # WRONG\n    return x\n"] * 2,
        }[strategy]
        return SimpleNamespace(
            status="improved", original_code=task.code, best_code=rounds[-1], rounds=2, stop_reason="max_rounds",
            rounds_best_code=rounds, tokens_used=100, llm_calls=2, speedup=4.0, trajectory_path=None,
        )  # fmt: skip


@pytest.fixture
def suite_dir(tmp_path):
    d = tmp_path / "suite"
    d.mkdir()
    for name in ("t1", "t2", "t3"):
        (d / f"{name}.yaml").write_text(TASK.format(name=name))
    (d / "t4.yaml").write_text(TASK.format(name="t4").replace("x + 1", "x + 2"))  # fails its own tests
    (d / "t5.yaml").write_text("name: t5\n")  # missing entry_point
    return d


def settings(*strategies, **kw):
    return BenchSettings(strategies=strategies, backend="scripted", models=("replay:reference",), **kw)


def test_interleaved_run_with_hand_computed_metrics(suite_dir, tmp_path):
    opt = FakeOptimize()
    out = tmp_path / "out"
    report = run_bench(
        suite_dir,
        out,
        settings("fast", "same", "wrong"),
        sandbox=FakeSandbox(),
        optimize=opt,
        progress=False,
    )
    # interleaved per task, broken tasks reported and not run
    assert opt.calls == [(t, s) for t in ("t1", "t2", "t3") for s in ("fast", "same", "wrong")]
    assert {b.where.rsplit("/", 1)[-1] for b in report.broken} == {"t4.yaml", "t5.yaml"}
    fast, same, wrong = (report.aggregates[k] for k in ("fast", "same", "wrong"))
    # fast: 4x over the start (interval [3.88, 4.12] >= 1.1), equal to the reference (identical cost), better
    # than the start -> Time% 100
    assert (fast.n, fast.pass_at_1, fast.significant_rate) == (3, 1.0, 1.0)
    assert fast.geomean_speedup == pytest.approx(4.0)
    assert (fast.time_pct, fast.memory_pct, fast.integral_pct) == (100.0, 100.0, 100.0)
    # same: the start, 4x slower than the reference -> as good as 1 of its 2 known solutions
    assert (same.pass_at_1, same.significant_rate, same.geomean_speedup) == (1.0, 0.0, 1.0)
    assert (same.time_pct, same.integral_pct) == (50.0, 50.0)
    # wrong: failures count 0 and 1.0
    assert (wrong.pass_at_1, wrong.significant_rate, wrong.geomean_speedup, wrong.time_pct) == (
        0.0,
        0.0,
        1.0,
        0.0,
    )
    # per-round curve: after round 1 the fast strategy is 2x, after round 2 4x
    assert [round(a.geomean_speedup, 6) for a in report.curves["fast"]] == [2.0, 4.0]
    assert [a.time_pct for a in report.curves["fast"]] == [50.0, 100.0]  # round 1: slower than the reference
    # files
    data = json.loads((out / "results.json").read_text())
    assert len(data["records"]) == 9 and data["aggregates"]["fast"]["pass_at_1"] == 1.0
    rec = data["records"][0]
    assert rec["final"]["speedup_ci"] == pytest.approx([3.88, 4.12])
    assert rec["tokens_used"] == 100 and rec["n_rounds"] == 2 and rec["wall_time_s"] >= 0
    summary = (out / "summary.md").read_text()
    assert "| fast | 3 | 100.0 | 100.0 | 4.00x | 100.0 |" in summary
    assert "t4.yaml" in summary and "wrong_answer" in summary
    assert (out / "speedups.png").stat().st_size > 0 and (out / "rounds.png").stat().st_size > 0


def test_resume_skips_finished_records_and_retries_errors(suite_dir, tmp_path):
    out = tmp_path / "out"
    first = FakeOptimize(fail_on="t2")
    report = run_bench(
        suite_dir,
        out,
        settings("fast", "same"),
        limit=2,
        sandbox=FakeSandbox(),
        optimize=first,
        progress=False,
    )
    errors = [r for r in report.records if r.error]
    assert [(r.task, r.strategy) for r in errors] == [("t2", "fast"), ("t2", "same")]
    assert "the backend fell over" in errors[0].error and report.aggregates["fast"].pass_at_1 == 0.5

    with pytest.raises(ConfigError, match="--resume"):
        run_bench(
            suite_dir,
            out,
            settings("fast", "same"),
            sandbox=FakeSandbox(),
            optimize=FakeOptimize(),
            progress=False,
        )

    interrupted = out / "trajectories" / "t2__fast__replay_reference.jsonl"
    interrupted.write_text('{"type": "run"}\n{"type": "step"}\n')  # the attempt that fell over, half written
    second = FakeOptimize()
    report = run_bench(
        suite_dir,
        out,
        settings("fast", "same"),
        resume=True,
        sandbox=FakeSandbox(),
        optimize=second,
        progress=False,
    )
    assert second.calls == [("t2", "fast"), ("t2", "same"), ("t3", "fast"), ("t3", "same")]
    assert (
        report.resumed == 2
        and report.aggregates["fast"].n == 3
        and report.aggregates["fast"].pass_at_1 == 1.0
    )
    assert len(read_records(out / "results.jsonl")) == 8  # the error records stay in the log
    # the retry writes a trajectory of its own; the interrupted attempt's steps are kept beside it
    assert not interrupted.exists()
    kept = out / "trajectories" / "t2__fast__replay_reference.interrupted.jsonl"
    assert kept.read_text().count("\n") == 2

    with pytest.raises(ConfigError, match="different rounds"):
        run_bench(
            suite_dir,
            out,
            settings("fast", rounds=7),
            resume=True,
            sandbox=FakeSandbox(),
            optimize=second,
            progress=False,
        )


def test_torn_last_line_is_ignored(tmp_path, suite_dir):
    out = tmp_path / "out"
    run_bench(
        suite_dir,
        out,
        settings("fast"),
        limit=1,
        sandbox=FakeSandbox(),
        optimize=FakeOptimize(),
        progress=False,
    )
    with (out / "results.jsonl").open("a") as f:
        f.write('{"task": "t2", "strat')  # a crash mid-write
    opt = FakeOptimize()
    run_bench(
        suite_dir,
        out,
        settings("fast"),
        limit=2,
        resume=True,
        sandbox=FakeSandbox(),
        optimize=opt,
        progress=False,
    )
    assert opt.calls == [("t2", "fast")]


def test_workers_never_overlap_measurements(suite_dir, tmp_path):
    sb = FakeSandbox(delay=0.01)
    opt = FakeOptimize()
    report = run_bench(
        suite_dir,
        tmp_path / "out",
        settings("fast", "same", workers=3),
        sandbox=sb,
        optimize=opt,
        progress=False,
        plots=False,
    )
    assert len(report.records) == 6 and sb.compares > 0
    assert sb.max_active == 1
    assert [r.task for r in report.records] == ["t1", "t1", "t2", "t2", "t3", "t3"]


def test_shards_share_one_out_dir_and_a_last_run_writes_the_combined_report(suite_dir, tmp_path):
    out = tmp_path / "out"
    shards = [FakeOptimize(), FakeOptimize()]

    def run_shard(i):
        kw = dict(resume=True, shard=(i, 2), sandbox=FakeSandbox(delay=0.01), optimize=shards[i])
        run_bench(suite_dir, out, settings("fast", "same"), progress=False, plots=False, **kw)

    threads = [threading.Thread(target=run_shard, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # the valid tasks t1, t2, t3 split as (t1, t3) and (t2); each record is written once, whole
    assert {c[0] for c in shards[0].calls} == {"t1", "t3"} and {c[0] for c in shards[1].calls} == {"t2"}
    assert len(read_records(out / "results.jsonl")) == 6
    last = FakeOptimize()
    report = run_bench(
        suite_dir,
        out,
        settings("fast", "same"),
        resume=True,
        sandbox=FakeSandbox(),
        optimize=last,
        progress=False,
    )
    assert last.calls == [] and report.resumed == 6
    assert report.aggregates["fast"].n == 3 and report.aggregates["fast"].pass_at_1 == 1.0


def test_progress_gives_a_line_per_record_and_passes_the_display_to_the_optimizer(
    suite_dir, tmp_path, capsys
):
    seen = []

    class Recording(FakeOptimize):
        def __call__(self, task, **kw):
            seen.append(callable(kw.get("on_event")))
            kw["on_event"]("round_started", {"round": 1, "rounds": 2, "candidates": 2})
            return super().__call__(task, **kw)

    run_bench(suite_dir, tmp_path / "out", settings("fast"), sandbox=FakeSandbox(), optimize=Recording(),
              progress=True, plots=False)  # fmt: skip
    err = capsys.readouterr().err.splitlines()
    assert seen == [True, True, True]
    assert err[0] == "bench: 3 runs (task x strategy x model) to do"
    assert [ln.split(": ", 2)[1] for ln in err[1:]] == [f"t{i} [fast / replay:reference]" for i in (1, 2, 3)]
    assert err[1].startswith("bench 1/3: ") and "x the starting code (2 rounds, " in err[1]
    assert not any("generating" in ln for ln in err)  # a task's own events stay on the status line


def test_report_writes_the_summary_of_a_stopped_run_without_running_anything(suite_dir, tmp_path):
    from afterburner.bench import report_bench

    out = tmp_path / "out"
    run_bench(
        suite_dir, out, settings("fast", "same"), limit=2, sandbox=FakeSandbox(), optimize=FakeOptimize(),
        progress=False,
    )  # fmt: skip
    (out / "summary.md").unlink()
    report = report_bench(suite_dir, out, settings("fast", "same"))
    assert len(report.records) == 4 and report.aggregates["fast"].n == 2  # the records there, nothing new
    assert "| fast | 2 |" in (out / "summary.md").read_text()
    with pytest.raises(ConfigError, match="different"):
        report_bench(suite_dir, out, settings("fast", "same", rounds=5))  # not the run's settings
    with pytest.raises(ConfigError, match="nothing to report"):
        report_bench(suite_dir, tmp_path / "empty", settings("fast"))
