"""What a run did, for people: the summary table, the diff, and a Markdown page with a plot.

The plot (CPU time per round: every correct candidate and the best so far) needs matplotlib, imported
only here and only when a report is written; without it the page says so and has everything else.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from afterburner.trajectory import read_trajectory

__all__ = ["fmt_bytes", "fmt_seconds", "round_series", "summary_rows", "summary_table", "write_report"]


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


def summary_rows(result: Any) -> list[tuple[str, str, str]]:
    """(what, original, best) rows: every number says what it is."""
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
    return [
        (
            f"CPU time (median of {_n(base)} / {_n(best)} runs)",
            fmt_seconds(_median(base)),
            fmt_seconds(_median(best)),
        ),
        (
            "peak memory (tracemalloc)",
            fmt_bytes(getattr(base, "peak_memory_bytes", None)),
            fmt_bytes(getattr(best, "peak_memory_bytes", None)),
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
    """Per-round CPU times from a trajectory: {"candidates": [(round, s)], "best": [(round, s)]}."""
    traj = read_trajectory(trajectory_path)
    candidates, best = [], []
    current = baseline_cpu
    if current is not None:
        best.append((0, current))
    by_round: dict[int, list[dict]] = {}
    for step in traj.steps:
        by_round.setdefault(step["round"], []).append(step)
    for rnd in sorted(by_round):
        for step in by_round[rnd]:
            b = (step.get("comparison") or {}).get("b") or step.get("measurement") or {}
            med = (b.get("cpu_time_s") or {}).get("median")
            if med is not None and step.get("status") == "passed":
                candidates.append((rnd, med))
                if step.get("accepted"):
                    current = med
        if current is not None:
            best.append((rnd, current))
    return {"candidates": candidates, "best": best}


def _plot(series: dict, path: Path, title: str) -> str | None:
    """Write the PNG; returns None on success or the reason it was not written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install 'afterburner[plot]')"
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if series["candidates"]:
        xs, ys = zip(*series["candidates"], strict=True)
        ax.scatter(xs, [1e3 * y for y in ys], s=18, color="0.6", label="correct candidates")
    if series["best"]:
        xs, ys = zip(*series["best"], strict=True)
        ax.step(xs, [1e3 * y for y in ys], where="post", color="C1", marker="o", label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round (0 = original)")
    ax.set_ylabel("CPU time, median (ms)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return None


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
        why_no_plot = _plot(series, out / "cpu_per_round.png", f"{name}: CPU time per round")
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
