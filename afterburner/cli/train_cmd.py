"""``afterburner train collect|sft|dpo|grpo|plot``: thin wrappers over the `training` package.

afterburner train collect --tasks ../shared/data/MbppPlus.jsonl.gz --trajectories-dir runs/traj --limit 50 --jobs 2
afterburner train sft  --config training/configs/gpu_sft.yaml  [--output-dir DIR] [key=value ...]
afterburner train grpo --config training/configs/smoke_0.5b_cpu.yaml max_steps=2 model=path/to/model
afterburner train plot runs/grpo        # trainer_state.json -> reward_curve.png, the per-quarter table
"""

from __future__ import annotations

import argparse
import json
import sys

from afterburner.cli.executor_args import add_executor_args, open_executor
from afterburner.cli.options import add_renamed, add_settings_args
from afterburner.errors import ConfigError
from afterburner.suite import SPLITS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="fine-tune the policy: collect trajectories, SFT, DPO, GRPO")
    sub = parser.add_subparsers(dest="train_command", metavar="STAGE")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    c = sub.add_parser("collect", help="run the optimizer over tasks to produce trajectories (resumable)")
    c.add_argument(
        "--tasks",
        nargs="+",
        required=True,
        help="problem sets (.jsonl[.gz]), suite dirs, task files (required)",
    )
    c.add_argument(
        "--trajectories-dir",
        metavar="DIR",
        help="the folder for one trajectory JSONL per task (required)",
    )
    add_renamed(c, "--out", "--trajectories-dir", dest="trajectories_dir")
    c.add_argument("--limit", type=int, default=None, help="at most N tasks per source (default: all)")
    c.add_argument(
        "--exclude",
        nargs="*",
        default=[],
        help="task names to leave out, e.g. held-out tasks (default: none)",
    )
    c.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="of a suite in halves (the real suite), only this half, e.g. train (default: every task)",
    )
    c.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="tasks optimized in parallel, one shared model (default: %(default)s)",
    )
    c.add_argument(
        "--backend", default="transformers", help="the LLM backend, as for optimize (default: %(default)s)"
    )
    c.add_argument("--model", default=None, help="model id, directory or adapter (default: the backend's)")
    c.add_argument(
        "--strategy",
        default="default",
        choices=("default", "afterburner", "baseline"),
        help="the optimizer's strategy (default: %(default)s)",
    )
    add_settings_args(c, ("rounds", "candidates"))  # as optimize spells them
    c.add_argument("--no-validate", action="store_true", help="do not drop tasks whose own code fails")
    add_executor_args(c, per_node="--jobs")
    c.set_defaults(func=_collect)

    for stage, what in (
        ("sft", "supervised fine-tuning on the best correct solution per task"),
        ("dpo", "DPO on faster-correct vs slower-or-wrong pairs from trajectories"),
        ("grpo", "GRPO/RLOO with sandbox rewards"),
    ):
        s = sub.add_parser(stage, help=what)
        s.add_argument("--config", required=True, help="a YAML config, see training/configs/ (required)")
        s.add_argument(
            "--output-dir",
            default=None,
            metavar="DIR",
            help="where the adapter or model is written (default: the config's output_dir)",
        )
        s.add_argument(
            "overrides",
            nargs="*",
            metavar="key=value",
            help="override config keys, e.g. max_steps=2 (default: none)",
        )
        s.set_defaults(func=_train, stage=stage)

    p = sub.add_parser(
        "plot", help="reward curve PNG and the per-quarter table from a run's trainer_state.json"
    )
    p.add_argument("run", help="a run directory or its trainer_state.json")
    p.add_argument("--out", default=None, metavar="FILE", help="the PNG file (default: RUN/reward_curve.png)")
    p.set_defaults(func=_plot)


def _collect(args: argparse.Namespace) -> int:
    from training.collect import collect

    if not args.trajectories_dir:  # not argparse's required=True: the old spelling --out must count too
        raise ConfigError("give --trajectories-dir DIR: the folder for the trajectories")

    options = {k: v for k, v in (("rounds", args.rounds), ("candidates", args.candidates)) if v is not None}
    executor = open_executor(args, per_node=args.jobs)
    try:
        report = collect(
            args.tasks,
            args.trajectories_dir,
            limit=args.limit,
            exclude=args.exclude,
            split=args.split,
            jobs=args.jobs,
            backend=args.backend,
            model=args.model,
            strategy=args.strategy,
            validate=not args.no_validate,
            progress=lambda name, what: print(f"{name}: {what}", file=sys.stderr),
            executor=executor,
            **options,
        )
    finally:
        if executor is not None:
            executor.close()
    for name, why in report.excluded:
        print(f"excluded {name}: {why}", file=sys.stderr)
    print(f"trajectories in {args.trajectories_dir}: {report.summary()}")
    return 1 if report.failed and not report.done else 0


def _train(args: argparse.Namespace) -> int:
    from training.config import load_config, parse_overrides

    cfg = load_config(args.config, parse_overrides(args.overrides))
    if args.stage == "grpo":
        from training.grpo import train_grpo as run
    elif args.stage == "sft":
        from training.sft import train_sft as run
    else:
        from training.dpo import train_dpo as run
    out = run(cfg, output_dir=args.output_dir)
    summary = json.loads((out / "train_summary.json").read_text())
    for name, why in summary.get("excluded_tasks", []):
        print(f"excluded {name}: {why}", file=sys.stderr)
    if summary.get("broken_trajectory_lines"):
        print(f"skipped {summary['broken_trajectory_lines']} broken trajectory line(s)", file=sys.stderr)
    st = summary.get("step_time_s", {})
    median = st.get("median")
    print(
        f"{args.stage}: {summary.get('steps')} steps, step time median "
        f"{median:.2f} s (n={st.get('n')}), peak RSS {summary.get('peak_rss_mb')} MB"
        if median is not None
        else f"{args.stage}: {summary.get('steps')} steps"
    )
    if summary.get("rewards"):
        print(_grpo_figures(summary, cfg.max_completion_length))
    print(f"written to {out} (use it as: afterburner optimize ... --model {out})")
    return 0


def _grpo_figures(summary: dict, max_tokens: int) -> str:
    """One line on what the GRPO steps did: rewards, completions that ended, the sandbox pass rate."""
    parts = ["mean reward per step: " + ", ".join(f"{r:.3f}" for r in summary["rewards"])]
    finished, length = summary.get("finished_ratio"), summary.get("finished_mean_length")
    if finished is not None:
        ended = f"{finished:.0%} of completions ended within max_completion_length={max_tokens}"
        parts.append(ended + (f" (mean {length:.0f} tokens)" if finished and length else ""))
    if summary.get("pass_rate") is not None:
        parts.append(f"{summary['pass_rate']:.0%} passed the tests in the sandbox")
    zero = (summary.get("zero_std_share") or {}).get("overall")
    if zero is not None:
        parts.append(f"{zero:.0%} of the groups had zero advantage (all completions scored alike)")
    return "; ".join(parts)


def _plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from training.plot import plot_reward_curve, quarter_table

    run = Path(args.run)
    folder = run if run.is_dir() else run.parent
    out = Path(args.out) if args.out else folder / "reward_curve.png"
    print(plot_reward_curve(run, out))
    config = folder / "train_config.json"
    max_tokens = json.loads(config.read_text()).get("max_completion_length") if config.is_file() else None
    print(quarter_table(run, max_tokens))
    return 0
