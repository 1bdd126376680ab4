"""What a run did, for people: the summary table, the diff, and a Markdown page with a plot.

The plot (CPU time per round on a log axis: every candidate by its verdict, the best so far, the
original's and the best's times as the table gives them) needs matplotlib, imported only here and only
when a report is written; without it the page says so and has everything else.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from afterburner.trajectory import read_trajectory

__all__ = [
    "fmt_bytes",
    "fmt_seconds",
    "plot_figure",
    "round_series",
    "summary_rows",
    "summary_table",
    "write_report",
]


def fmt_seconds(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    if x >= 1:
        return f"{x:.3f} s"
    if x >= 1e-3:
        return f"{1e3 * x:.2f} ms"
    return f"{1e6 * x:.1f} µs"


def fmt_bytes(x: float | None) -> str:
    if x is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(x) < 1024 or unit == "GiB":
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return "n/a"  # pragma: no cover


def _median(m: Any) -> float | None:
    return m.cpu_time_s.median if m is not None and m.cpu_time_s is not None else None


def _n(m: Any) -> int:
    return m.cpu_time_s.n if m is not None and m.cpu_time_s is not None else 0


def _final_cpu(result: Any) -> tuple[dict, dict] | None:
    """The CPU-time stats of original and best in the final interleaved comparison, when there is one."""
    final = getattr(result, "final", None) or {}
    a, b = ((final.get(k) or {}).get("cpu_time_s") or {} for k in ("a", "b"))
    return (a, b) if a.get("median") and b.get("median") else None


def summary_rows(result: Any) -> list[tuple[str, str, str]]:
    """(what, original, best) rows: every number says what it is.

    CPU times and peak memory come from the final comparison when there is one, the same interleaved
    runs as the speedup and the memory ratio (so those are their ratios); otherwise from the original's
    and the best's own runs."""
    base, best = result.baseline, result.best
    lo, hi = result.speedup_ci
    ci = f" (95% CI {lo:.2f}-{hi:.2f})" if math.isfinite(lo) and math.isfinite(hi) else ""
    sig = "significant" if result.improved else "not significant"
    speed = f"{result.speedup:.2f}x{ci}, {sig}" if math.isfinite(result.speedup) else "n/a"
    if result.status == "interrupted":
        speed = (
            f"~{result.speedup:.2f}x (estimate from separate runs; interrupted before the final comparison)"
        )
    mem = result.memory_ratio
    final = _final_cpu(result)
    if final:
        a, b = final
        n = f"{a.get('n')} runs each" if a.get("n") == b.get("n") else f"{a.get('n')} / {b.get('n')} runs"
        cpu = (f"CPU time (median of {n}, interleaved)", fmt_seconds(a["median"]), fmt_seconds(b["median"]))
    else:
        cpu = (
            f"CPU time (median of {_n(base)} / {_n(best)} runs)",
            fmt_seconds(_median(base)),
            fmt_seconds(_median(best)),
        )
    peak_a, peak_b = getattr(base, "peak_memory_bytes", None), getattr(best, "peak_memory_bytes", None)
    if final:  # the memory ratio's runs too
        peak_a, peak_b = (result.final[k].get("peak_memory_bytes") for k in ("a", "b"))
    return [
        cpu,
        (
            "peak memory (tracemalloc" + (", the same runs)" if final else ")"),
            fmt_bytes(peak_a),
            fmt_bytes(peak_b),
        ),
        ("speedup (original vs best, interleaved)", "1.00x", speed),
        ("memory ratio (best / original)", "1.00", f"{mem:.2f}" if mem is not None else "n/a"),
        ("rounds / LLM calls / tokens", "", f"{result.rounds} / {result.llm_calls} / {result.tokens_used}"),
        ("stop reason / status", "", f"{result.stop_reason} / {result.status}"),
    ]


def summary_table(result: Any) -> Any:
    """The summary as a rich Table (for the terminal)."""
    from rich.table import Table

    table = Table(title=f"afterburner: {result.task.name if result.task else ''} ({result.strategy})")
    table.add_column("")
    table.add_column("original", justify="right")
    table.add_column("best", justify="right")
    for row in summary_rows(result):
        table.add_row(*row)
    return table


def round_series(trajectory_path: str | Path, baseline_cpu: float | None = None) -> dict:
    """Per-round CPU times from a trajectory.

    ``candidates``: [(round, s)] of the correct ones; ``points``: [(round, index, s, outcome)] of the
    same; ``failed``: [(round, index, outcome)] of the others (no time: format error, the code again,
    wrong, crash, timeout); ``best``: [(round, s)], the best so far after each round (0: the original);
    ``k``: the most candidates in a round. A compared candidate's time is the round's reference (the
    best so far) divided by its interleaved speedup, so every point is on one scale.
    """
    from afterburner.agent.outcomes import classify_step

    traj = read_trajectory(trajectory_path)
    candidates, points, failed, best = [], [], [], []
    current = baseline_cpu
    if current is not None:
        best.append((0, current))
    by_round: dict[int, list[dict]] = {}
    for step in traj.steps:
        by_round.setdefault(step["round"], []).append(step)
    for rnd in sorted(by_round):
        reference = current  # what this round's candidates were compared against (the best so far)
        for step in by_round[rnd]:
            cmp = step.get("comparison") or {}
            b = cmp.get("b") or step.get("measurement") or {}
            med = (b.get("cpu_time_s") or {}).get("median")
            speedup = cmp.get("speedup")
            if med is not None and reference and isinstance(speedup, int | float) and math.isfinite(speedup):
                # on the reference's scale: CPU speed drifts between comparisons minutes apart, the ratio
                # measured interleaved within one does not (so a 1.00x candidate sits on the best line)
                med = reference / speedup if speedup > 0 else med
            outcome = step.get("outcome") or classify_step(step)
            if med is not None and step.get("status") == "passed":
                candidates.append((rnd, med))
                points.append((rnd, step.get("index", 0), med, outcome))
                if step.get("accepted"):
                    current = med
            else:
                failed.append((rnd, step.get("index", 0), outcome))
        if current is not None:
            best.append((rnd, current))
    k = max((len(v) for v in by_round.values()), default=0)
    return {"candidates": candidates, "points": points, "failed": failed, "best": best, "k": k}


_CORRECT_STYLE = {  # outcome: (label, colour, marker)
    "faster": ("correct, significantly faster\nthan the best so far", "C2", "o"),
    "not_significant": ("correct, not significantly\nfaster", "0.55", "o"),
    "slower": ("correct, slower than\nthe best so far", "C3", "o"),
}
_FAILED_ROWS = ("format_error", "unchanged", "wrong", "crash", "timeout")


def plot_figure(
    series: dict,
    title: str,
    original_s: float | None = None,
    best_s: float | None = None,
    speedup: str = "",
) -> Any:
    """The figure of the report (matplotlib, imported by the caller): CPU time per round on a log axis,
    every correct candidate as a dot coloured by its verdict, the best so far, the original's and the
    final best's times annotated as the summary table gives them; below, the candidates without a time
    (failed, or the code again) by round and status."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from afterburner.agent.outcomes import OUTCOME_LABELS

    fig, (ax, low) = plt.subplots(
        2, 1, figsize=(8.5, 5), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3.2, 1.3]}
    )
    k = max(series.get("k", 1), 1)

    def x_of(rnd: int, index: int) -> float:  # the candidates of a round side by side around it
        return rnd + (index - (k - 1) / 2) * min(0.5 / k, 0.12)

    points = series.get("points") or [(r, 0, y, "not_significant") for r, y in series.get("candidates", [])]
    for outcome, (label, colour, marker) in _CORRECT_STYLE.items():
        mine = [(x_of(r, i), 1e3 * y) for r, i, y, o in points if o == outcome]
        if mine:
            xs, ys = zip(*mine, strict=True)
            ax.scatter(xs, ys, s=22, color=colour, marker=marker, zorder=3, label=f"{label} ({len(mine)})")
    if series["best"]:
        xs, ys = zip(*series["best"], strict=True)
        ax.step(xs, [1e3 * y for y in ys], where="post", color="C1", marker="o", ms=4, label="best so far")
    last_x = max([r for r, _ in series["best"]] + [r for r, *_ in points] + [1])
    for (
        value,
        text,
        style,
        x,
        ha,
        dy,
    ) in (  # the original above its line on the right, the best below on the left
        (original_s, f"original {fmt_seconds(original_s)}", "--", last_x + 0.45, "right", 3),
        (best_s, f"best {fmt_seconds(best_s)}" + (f", {speedup}" if speedup else ""), ":", -0.45, "left", -3),
    ):
        if value:
            ax.axhline(1e3 * value, color="0.3", ls=style, lw=0.9, zorder=1)
            ax.annotate(
                text,
                (x, 1e3 * value),
                ha=ha,
                va="bottom" if dy > 0 else "top",
                fontsize=8,
                xytext=(0, dy),
                textcoords="offset points",
            )
    ax.set_yscale("log")
    ys_all = [1e3 * v for v in (original_s, best_s) if v] + [1e3 * y for *_, y, _ in points]
    ys_all += [1e3 * y for _, y in series["best"]]
    if ys_all:  # room for the annotations above the highest and below the lowest line
        ax.set_ylim(min(ys_all) / 1.8, max(ys_all) * 1.6)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_seconds(v / 1e3)))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_ylabel("CPU time, median (log scale)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(alpha=0.3, which="both")

    failed = series.get("failed") or []
    rows = [o for o in _FAILED_ROWS if any(f[2] == o for f in failed)] or ["wrong"]
    for outcome in rows:
        mine = [x_of(r, i) for r, i, o in failed if o == outcome]
        if mine:
            low.scatter(mine, [rows.index(outcome)] * len(mine), marker="x", color="C3", s=24)
    low.set_yticks(
        range(len(rows)), [f"{OUTCOME_LABELS.get(o, o)} ({sum(f[2] == o for f in failed)})" for o in rows]
    )
    low.set_ylim(len(rows) - 0.4, -0.6)  # the first row on top
    low.tick_params(axis="y", labelsize=7)
    if not failed:
        low.text(
            0.5, 0.5, "no failed candidates", transform=low.transAxes, ha="center", va="center", fontsize=8
        )
    low.set_title("candidates without a time (failed, or the code again)", fontsize=8)
    low.grid(alpha=0.3, axis="x")
    low.xaxis.set_major_locator(MaxNLocator(integer=True))
    low.set_xlim(-0.5, last_x + 0.5)
    low.set_xlabel("round (0 = original)")
    fig.tight_layout()
    return fig


def _plot(series: dict, path: Path, title: str, **annotations: Any) -> str | None:
    """Write the PNG; returns None on success or the reason it was not written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'afterburner[plot]')"
    fig = plot_figure(series, title, **annotations)
    fig.savefig(path)
    plt.close(fig)
    return None


def _table_times(result: Any) -> dict:
    """The original's and the best's CPU time and the speedup, as the summary table gives them."""
    final = _final_cpu(result)
    if final:
        original, best = final[0]["median"], final[1]["median"]
    else:
        original, best = _median(result.baseline), None
        if result.best_code != result.original_code:
            best = _median(result.best)
    speedup = ""
    if best and math.isfinite(result.speedup) and result.status != "interrupted":
        speedup = f"{result.speedup:.2f}x interleaved"
    return {"original_s": original, "best_s": best, "speedup": speedup}


def write_report(result: Any, out_dir: str | Path) -> Path:
    """Write ``report.md`` (summary, diff, plot ``cpu_per_round.png``) into `out_dir`; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = result.task.name if result.task else "task"
    lines = [
        f"# afterburner report: {name}",
        "",
        f"Run `{result.run_id}`, strategy `{result.strategy}`, trajectory `{result.trajectory_path}`.",
        "",
        "| | original | best |",
        "|---|---:|---:|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in summary_rows(result)]
    lines.append("")
    why_no_plot = "no trajectory"
    if result.trajectory_path and Path(result.trajectory_path).is_file():
        series = round_series(result.trajectory_path, _median(result.baseline))
        title = f"{name}: CPU time per round"
        why_no_plot = _plot(series, out / "cpu_per_round.png", title, **_table_times(result))
    if why_no_plot is None:
        lines += ["## CPU time per round", "", "![CPU time per round](cpu_per_round.png)", ""]
    else:
        lines += [f"_No plot: {why_no_plot}._", ""]
    diff = result.diff()
    lines += ["## Diff (original -> best)", ""]
    lines += ["```diff", diff.rstrip("\n"), "```", ""] if diff else ["The original is unchanged.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
