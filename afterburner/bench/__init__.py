"""The benchmark runner: the optimizer over a suite, several strategies and models side by side.

    from afterburner.bench import BenchSettings, run_bench
    report = run_bench("benchmarks/suites/smoke", "runs/smoke",
                       BenchSettings(strategies=("default", "afterburner"), backend="scripted",
                                     models=("replay:reference",)))
    report.aggregates["default"].pass_at_1

The metrics are defined in `afterburner.metrics` and docs/benchmarks.md.
"""

from afterburner.bench.evaluate import TaskRecord, evaluate_code
from afterburner.bench.runner import BenchReport, BenchSettings, read_records, report_bench, run_bench

__all__ = [
    "BenchReport",
    "BenchSettings",
    "TaskRecord",
    "evaluate_code",
    "read_records",
    "report_bench",
    "run_bench",
]
