"""``afterburner bench SUITE``: the optimizer over a suite, strategies and models side by side.

afterburner bench benchmarks/suites/dev --strategy default --strategy afterburner --rounds 3
afterburner bench benchmarks/suites/smoke --backend scripted --model replay:reference --strategy default
afterburner bench /path/to/HumanEvalPlus.jsonl.gz --limit 5 --results-dir runs/he5 [--resume]
afterburner bench benchmarks/suites/real --split test --results-dir runs/real-test
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from afterburner.cli.executor_args import add_executor_args, open_executor
from afterburner.cli.measure_cmd import add_sandbox_arg, open_sandbox
from afterburner.cli.options import add_renamed, add_settings_args
from afterburner.errors import ConfigError
from afterburner.suite import SPLITS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="benchmark the optimizer over a suite (pass@1, speedups, Time/Memory/Integral %%)",
        description="Run the optimizer over every task of a suite for each strategy and model (interleaved "
        "per task), re-measure the results, and write results.jsonl/results.json, summary.md and plots.",
    )
    p.add_argument(
        "suite", help="a folder of task files (.yaml/.json) or a .jsonl(.gz) file (tasks or a problem set)"
    )
    p.add_argument(
        "--strategy",
        action="append",
        default=None,
        help="default, afterburner or baseline; repeat it to compare several (default: default)",
    )
    p.add_argument(
        "--model",
        action="append",
        default=None,
        help="model id for the backend, repeatable; with --backend scripted: replay:reference, replay:code "
        "or replay:wrong (default: the backend's model)",
    )
    p.add_argument(
        "--backend",
        default="transformers",
        help="transformers, vllm, openai or scripted (default: %(default)s)",
    )
    add_settings_args(p, ("rounds", "candidates"))  # as optimize spells them
    p.add_argument(
        "--limit", type=int, default=None, help="only the first N tasks of the suite (default: all)"
    )
    p.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="only one half of a suite with halves (its tasks' metadata.split), e.g. the real suite's test "
        "half (default: every task)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="tasks run at the same time; measurements never overlap (default: %(default)s)",
    )
    p.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="only every N-th task from the I-th (0-based), to run N processes into one --results-dir side "
        "by side (default: every task)",
    )
    p.add_argument(
        "--results-dir",
        default=None,
        metavar="DIR",
        help="the folder of the results: results.jsonl, results.json, summary.md, plots, trajectories "
        "(default: bench-runs/SUITE-TIMESTAMP)",
    )
    add_renamed(p, "--out", "--results-dir", dest="results_dir")
    p.add_argument(
        "--resume", action="store_true", help="continue --results-dir, skipping the finished records"
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="run nothing: write the report of the records already in --results-dir (a run stopped part "
        "way); give the run's own settings",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    add_settings_args(p, ("repeats", "timeout", "memory_limit"))
    p.add_argument(
        "--min-speedup", type=float, default=1.1, help="the significant-speedup bar (default: %(default)s)"
    )
    p.add_argument(
        "--with-solution", action="store_true", help="problem sets: start from the reference solution"
    )
    p.add_argument("--no-curves", action="store_true", help="skip the per-round evaluation (faster)")
    p.add_argument("--no-progress", action="store_true", help="print no progress on stderr")
    add_sandbox_arg(p)
    add_executor_args(p, per_node="--workers")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from afterburner.bench import BenchSettings, report_bench, run_bench
    from afterburner.suite import load_suite

    for flag, given in (("--resume", args.resume), ("--report", args.report)):
        if given and not args.results_dir:
            raise ConfigError(f"{flag} needs --results-dir DIR (the folder of the run)")
    settings = BenchSettings(
        strategies=tuple(dict.fromkeys(args.strategy or ["default"])),
        models=tuple(dict.fromkeys(args.model or [None])),
        backend=args.backend,
        rounds=args.rounds,
        candidates=args.candidates,
        repeats=args.repeats,
        timeout=args.timeout,
        memory_limit=args.memory_limit,
        workers=args.workers,
        threshold=args.min_speedup,
        curves=not args.no_curves,
        with_solution=args.with_solution,
    )
    shard = _parse_shard(args.shard) if args.shard else None
    if shard and not args.results_dir:
        raise ConfigError("--shard needs --results-dir DIR (the folder all the shards share)")
    suite = load_suite(args.suite, limit=args.limit, with_solution=args.with_solution, split=args.split)
    out = Path(args.results_dir or f"bench-runs/{suite.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    if args.report:
        report = report_bench(suite, out, settings)
    else:
        sandbox = open_sandbox(args)
        executor = open_executor(args, per_node=args.workers)
        try:
            report = run_bench(
                suite, out, settings, resume=args.resume, shard=shard, sandbox=sandbox,
                progress=not args.no_progress, executor=executor,
            )  # fmt: skip
        finally:
            if executor is not None:
                executor.close()
    for b in report.broken:
        print(f"afterburner: broken task {b.where}: {b.reason}", file=sys.stderr)
    if args.json:
        data = report.to_dict()
        for r in data["records"]:
            r.pop("final_code", None)
        print(json.dumps(data, indent=1, default=str))
        return 0
    from afterburner.bench.report import aggregate_table, outcome_table

    errors = sum(1 for r in report.records if r.error)
    print(f"{report.suite.name}: {len(report.suite.tasks)} tasks, {len(report.broken)} broken, "
          f"{len(report.records)} records ({report.resumed} resumed, {errors} errors)")  # fmt: skip
    print(aggregate_table(report.aggregates))
    if report.outcomes:
        print("\nwhere the candidates went:")
        print(outcome_table(report.outcomes, report.rewrite_outcomes))
    print(f"summary: {report.files['summary']}  results: {report.files['results']}")
    return 0


def _parse_shard(text: str) -> tuple[int, int]:
    i, sep, n = text.partition("/")
    if not (sep and i.isdigit() and n.isdigit() and 0 <= int(i) < int(n)):
        raise ConfigError(f"--shard {text!r}: give I/N with 0 <= I < N, e.g. --shard 0/2")
    return int(i), int(n)
