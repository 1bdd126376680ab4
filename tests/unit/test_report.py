"""The report page: summary, diff, and a plot when matplotlib is there (and a note when not)."""

from __future__ import annotations

import sys

import pytest

from afterburner.agent.optimizer import Optimizer
from afterburner.report import fmt_bytes, fmt_seconds, round_series, summary_rows, write_report
from tests.unit.fakes import FakeSandbox
from tests.unit.test_graph import FAST, ORIGINAL, SLOWER, WRONG


@pytest.fixture
def result(tmp_path):
    from afterburner.task import Task

    task = Task(name="dedupe", entry_point="dedupe", code=ORIGINAL, check_source="def check(c): pass\n")
    opt = Optimizer(
        backend="scripted",
        replies=[WRONG, FAST, SLOWER, SLOWER],
        sandbox=FakeSandbox(),
        out_dir=tmp_path / "runs",
        candidates=2,
        rounds=2,
    )
    return opt.run(task)


def test_report_has_summary_diff_and_plot(result, tmp_path):
    path = write_report(result, tmp_path / "rep")
    text = path.read_text()
    assert "| speedup (original vs best, interleaved) | 1.00x | 4.00x (95% CI" in text
    assert "```diff" in text and "+    return list(dict.fromkeys(xs))" in text
    assert "![CPU time per round](cpu_per_round.png)" in text
    assert (tmp_path / "rep" / "cpu_per_round.png").stat().st_size > 1000


def test_report_without_matplotlib_says_so(result, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    text = write_report(result, tmp_path / "rep").read_text()
    assert "No plot: matplotlib is not installed" in text and "```diff" in text
    assert not (tmp_path / "rep" / "cpu_per_round.png").exists()


def test_round_series_tracks_candidates_and_best(result):
    s = round_series(result.trajectory_path, 1.0)
    assert s["best"][0] == (0, 1.0) and s["best"][1][1] == pytest.approx(0.25, rel=0.01)
    assert len(s["candidates"]) == 3  # the wrong one is left out


def test_numbers_say_what_they_are(result):
    rows = dict((a, c) for a, _, c in summary_rows(result))
    assert any(k.startswith("CPU time (median of") for k in rows)
    assert fmt_seconds(0.0123) == "12.30 ms" and fmt_bytes(2048) == "2.0 KiB" and fmt_seconds(None) == "n/a"


def test_the_plot_has_a_log_axis_every_candidate_and_the_tables_figures(result):
    import matplotlib

    matplotlib.use("Agg")
    from afterburner.report import _table_times, plot_figure

    series = round_series(result.trajectory_path, 1.0)
    assert [o for *_, o in series["points"]] == ["faster", "slower", "slower"]
    assert [(r, o) for r, _, o in series["failed"]] == [(1, "wrong")]
    times = _table_times(result)
    fig = plot_figure(series, "dedupe", **times)
    ax, low = fig.axes
    assert ax.get_yscale() == "log"
    texts = [t.get_text() for t in ax.texts]
    rows = {a: (b, c) for a, b, c in summary_rows(result)}
    cpu = next(k for k in rows if k.startswith("CPU time"))
    assert f"original {rows[cpu][0]}" in texts  # the same figures as the table
    assert f"best {rows[cpu][1]}, {result.speedup:.2f}x interleaved" in texts
    assert sum(len(c.get_offsets()) for c in ax.collections) == 3  # every correct candidate, one dot each
    assert sum(len(c.get_offsets()) for c in low.collections) == 1  # and the wrong one, below
    assert [t.get_text() for t in low.get_yticklabels()] == ["wrong (1)"]


def test_the_table_takes_its_cpu_times_from_the_runs_of_the_speedup(result):
    rows = summary_rows(result)
    what, original, best = rows[0]
    a, b = (result.final[k]["cpu_time_s"] for k in ("a", "b"))
    assert "interleaved" in what and f"median of {a['n']} runs each" in what
    assert (original, best) == (fmt_seconds(a["median"]), fmt_seconds(b["median"]))
    assert result.speedup == pytest.approx(a["median"] / b["median"])


def test_the_run_folder_keeps_the_best_code(result):
    from pathlib import Path

    assert Path(result.best_path) == Path(result.run_dir) / "best.py"
    assert Path(result.best_path).read_text() == result.best_code != result.original_code


def test_the_tables_peak_memory_is_that_of_the_memory_ratios_runs(result):
    rows = {a: (b, c) for a, b, c in summary_rows(result)}
    a, b = (result.final[k]["peak_memory_bytes"] for k in ("a", "b"))
    assert rows["peak memory (tracemalloc, the same runs)"] == (fmt_bytes(a), fmt_bytes(b))
    assert rows["memory ratio (best / original)"][1] == f"{b / a:.2f}"
