"""The benchmark's tables (Markdown) and plots (matplotlib, imported only when plotting)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from afterburner.metrics import Aggregate

if TYPE_CHECKING:
    from afterburner.bench.runner import BenchReport

__all__ = ["aggregate_table", "curve_table", "outcome_table", "summary_markdown", "task_table", "write_plots"]


def _f(x: Any, fmt: str = "{:.2f}") -> str:
    return fmt.format(x) if isinstance(x, int | float) and math.isfinite(x) else "–"


def _ci(ci: Any) -> str:
    return f"[{_f(ci[0])}, {_f(ci[1])}]" if ci else ""


def _speedup(x: Any, ci: Any = None) -> str:
    if not (isinstance(x, int | float) and math.isfinite(x)):
        return "–"
    return f"{x:.2f}x {_ci(ci)}".strip()


def _pct(x: float) -> str:
    return _f(100 * x, "{:.1f}") if isinstance(x, int | float) else "–"


def aggregate_table(aggregates: dict[str, Aggregate], records: list | None = None) -> str:
    head = (
        "| strategy | tasks | pass@1 % | ≥1.1x signif. % | geomean speedup | Time % | Memory % | Integral % |"
    )
    rows = [head, "|" + "---|" * 8]
    for label, a in aggregates.items():
        rows.append(
            f"| {label} | {a.n} | {_pct(a.pass_at_1)} | {_pct(a.significant_rate)} | {_f(a.geomean_speedup)}x "
            f"| {_f(a.time_pct, '{:.1f}')} | {_f(a.memory_pct, '{:.1f}')} | {_f(a.integral_pct, '{:.1f}')} |"
        )
    return "\n".join(rows)


def outcome_table(
    outcomes: dict[str, dict[str, int]], rewrite_outcomes: dict[str, dict[str, dict[str, int]]] | None = None
) -> str:
    """Where every candidate went, per strategy: a count and its share of the strategy's candidates (the
    model's); below a strategy, one line per mechanical rewrite it tried (`afterburner.agent.rewrites`)."""
    from afterburner.agent.outcomes import OUTCOME_LABELS, OUTCOMES

    rows = [
        "| strategy | candidates | " + " | ".join(OUTCOME_LABELS[o] for o in OUTCOMES) + " |",
        "|" + "---|" * (len(OUTCOMES) + 2),
    ]

    def row(label: str, counts: dict[str, int]) -> str:
        n = sum(counts.values())
        cells = [
            f"{counts.get(o, 0)} ({_f(100 * counts.get(o, 0) / n, '{:.0f}')}%)" if n else "–"
            for o in OUTCOMES
        ]
        return f"| {label} | {n} | " + " | ".join(cells) + " |"

    for label, counts in outcomes.items():
        rows.append(row(label, counts))
        for origin, per in ((rewrite_outcomes or {}).get(label) or {}).items():
            rows.append(row(f"{label}: {origin}", per))
    return "\n".join(rows)


def curve_table(curves: dict[str, list[Aggregate]]) -> str:
    rows = [
        "| strategy | round | pass@1 % | ≥1.1x signif. % | geomean speedup | Time % | Memory % | Integral % |"
    ]
    rows.append("|" + "---|" * 8)
    for label, curve in curves.items():
        for r, a in enumerate(curve, 1):
            rows.append(
                f"| {label} | {r} | {_pct(a.pass_at_1)} | {_pct(a.significant_rate)} | {_f(a.geomean_speedup)}x "
                f"| {_f(a.time_pct, '{:.1f}')} | {_f(a.memory_pct, '{:.1f}')} | {_f(a.integral_pct, '{:.1f}')} |"
            )
    return "\n".join(rows)


def task_table(report: BenchReport) -> str:
    from afterburner.bench.runner import group_label

    models = [m for _, m in report.settings.combos()]
    rows = [
        "| task | strategy | status | speedup vs start [95% CI] | speedup vs reference [95% CI] | memory ratio "
        "| rounds | tokens | wall s |",
        "|" + "---|" * 9,
    ]
    for r in report.records:
        p = r.final
        ref = p.reference
        ref_s = _speedup(ref.speedup, ref.speedup_ci) if ref else "–"
        status = p.status if not r.error else f"error: {r.error[:60]}"
        rows.append(
            f"| {r.task} | {group_label(r.strategy, r.model, models)} | {status} "
            f"| {_speedup(p.speedup, p.speedup_ci)} | {ref_s} | {_f(p.memory_ratio)} "
            f"| {r.n_rounds} | {r.tokens_used} | {_f(r.wall_time_s, '{:.1f}')} |"
        )
    return "\n".join(rows)


def summary_markdown(report: BenchReport) -> str:
    s = report.settings
    models = ", ".join(dict.fromkeys(m for _, m in s.combos()))
    lines = [
        f"# Benchmark: {report.suite.name}",
        "",
        f"Suite `{report.suite.path}`: {len(report.suite.tasks)} tasks run, {len(report.broken)} broken. "
        f"Backend `{s.backend}`, model(s) {models}, rounds {s.rounds or 'strategy default'}, "
        f"candidates {s.candidates or 'strategy default'}.",
        "",
        f"Speedups are median CPU time ratios measured interleaved by the benchmark (not the optimizer), "
        f"with 95% bootstrap intervals; significant = interval lower bound ≥ {s.threshold}; the geometric mean "
        f"counts failures and unmeasured tasks as 1.0; Time/Memory/Integral % count, per correct task, the "
        f"share of known solutions (reference, starting code) the final code is at least as good as "
        f"(tolerance {s.tolerance:.0%}), over all tasks. See docs/benchmarks.md.",
        "",
        "## Aggregates (final code)",
        "",
        aggregate_table(report.aggregates),
    ]
    if report.outcomes:
        lines += [
            "",
            "## Where the candidates went",
            "",
            "Every candidate the optimizer generated, by what became of it (`afterburner.agent.outcomes`): "
            "no function named like the target in the reply (format error), the same program as the best "
            "(the code again), a wrong answer, a crash, a timeout; correct and new: slower than the best of "
            "its round (median), faster but not significantly, or significantly faster. The model's "
            "candidates are counted on the strategy's line; the mechanical rewrites tried beside them in "
            "round 1 (not model samples: `afterburner.agent.rewrites`) on a line of their own each.",
            "",
            outcome_table(report.outcomes, report.rewrite_outcomes),
        ]
    if report.curves:
        lines += ["", "## Per round (best code after round r)", "", curve_table(report.curves)]
    lines += ["", "## Per task", "", task_table(report)]
    if report.broken:
        lines += ["", "## Broken tasks (not run)", ""]
        lines += [f"- `{b.where}`: {b.reason}" for b in report.broken]
    if report.files.get("speedups_plot") or report.files.get("curves_plot"):
        lines += [""]
        for key in ("speedups_plot", "curves_plot"):
            if report.files.get(key):
                lines.append(f"![{key}]({Path(report.files[key]).name})")
    return "\n".join(lines) + "\n"


def write_plots(report: BenchReport) -> dict[str, str]:
    """speedups.png (speedup over the start per task per strategy) and rounds.png (the per-round curves)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator, ScalarFormatter
    except ImportError:
        return {}
    from afterburner.bench.runner import group_label

    files: dict[str, str] = {}
    models = [m for _, m in report.settings.combos()]
    labels = list(report.aggregates)
    tasks = [t.name for t in report.suite.tasks]
    if report.records and tasks:
        fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(tasks) * max(1, len(labels))), 4))
        width = 0.8 / max(1, len(labels))
        for j, label in enumerate(labels):
            ys, lo, hi = [], [], []
            for t in tasks:
                rec = next(
                    (
                        r
                        for r in report.records
                        if r.task == t and group_label(r.strategy, r.model, models) == label
                    ),
                    None,
                )
                y = rec.final.geo_speedup() if rec else math.nan
                ci = rec.final.speedup_ci if rec and rec.final.correct and rec.final.speedup_ci else (y, y)
                ys.append(y)
                lo.append(max(0.0, y - ci[0]))
                hi.append(max(0.0, ci[1] - y))
            xs = [i + j * width for i in range(len(tasks))]
            ax.bar(xs, ys, width, label=label, yerr=[lo, hi], capsize=2, error_kw={"lw": 0.8})
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        ax.set_xticks(
            [i + 0.4 - width / 2 for i in range(len(tasks))], tasks, rotation=60, ha="right", fontsize=7
        )
        ax.set_ylabel("speedup (median CPU, 95% CI)")
        ax.set_title(f"{report.suite.name}: final speedup over the starting code (failures = 1.0)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = report.out_dir / "speedups.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        files["speedups_plot"] = str(path)
    if any(report.curves.values()):
        metrics = [
            ("pass_at_1", "pass@1 %", 100),
            ("significant_rate", "≥1.1x significant %", 100),
            ("geomean_speedup", "geomean speedup", 1),
            ("time_pct", "Time %", 1),
            ("memory_pct", "Memory %", 1),
            ("integral_pct", "Integral %", 1),
        ]
        fig, axes = plt.subplots(2, 3, figsize=(12, 6))
        for ax, (attr, title, scale) in zip(axes.flat, metrics, strict=True):
            for label, curve in report.curves.items():
                xs = list(range(1, len(curve) + 1))
                ax.plot(xs, [scale * getattr(a, attr) for a in curve], marker="o", label=label)
            ax.set_title(title)
            ax.set_xlabel("round")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(f"{report.suite.name}: metrics of the best code after each round")
        fig.tight_layout()
        path = report.out_dir / "rounds.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        files["curves_plot"] = str(path)
    return files
