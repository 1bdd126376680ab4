"""``afterburner trace [-o FILE] -- python script.py ARGS`` (or ``-- -m pytest tests/``): where a command
spends its time in the project's own code, and the calls of its top functions, in a trace file for
``afterburner optimize --trace FILE``. See `afterburner.tracing`."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "trace",
        help="profile a command and record the calls of its top functions (for optimize --trace)",
        description="Run a Python command under cProfile, then again with a call recorder on the top "
        "functions of the project's own code; write both to a trace file.",
    )
    p.add_argument(
        "-o", "--out", default="afterburner.trace.json", help="the trace file (default: %(default)s)"
    )
    p.add_argument(
        "--record-top",
        type=int,
        default=10,
        help="record the calls of this many top functions (default: %(default)s)",
    )
    p.add_argument("--timeout", type=float, help="stop the command after this many seconds (default: none)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- python script.py ARGS, or -- -m module ARGS")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from afterburner.tracing import ranking_lines, trace_command

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    trace = trace_command(args.command, args.out, args.record_top, say, args.timeout)
    for line in ranking_lines(trace):
        print(line)
    if not any(f.get("recording") for f in trace["functions"]):
        print(f"no function of the project under {trace['root']} ran long enough to rank (nothing recorded)")
    print(f"wrote {args.out}; next: afterburner optimize --trace {args.out} --top 3")
    return 0
