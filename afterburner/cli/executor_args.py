"""``--executor`` / ``--ray-address``: where bench and train collect run their units (`afterburner.executor`)."""

from __future__ import annotations

import argparse
from typing import Any

from afterburner.executor import EXECUTORS


def add_executor_args(p: argparse.ArgumentParser, per_node: str) -> None:
    """The two options; `per_node` names the option that sets the units at a time on each Ray node."""
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="where the optimizer runs: local (this process, default) or ray (each optimizer run a Ray task "
        f"on a node that keeps its own warm sandbox, {per_node} at a time per node; needs "
        "pip install 'afterburner[ray]')",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="with --executor ray: the cluster to use (auto, HOST:6379 or ray://HOST:10001) "
        "(default: start a local one on 127.0.0.1)",
    )


def open_executor(args: argparse.Namespace, per_node: int | None = None) -> Any:
    """None for the local executor (the commands' own in-process path), else the executor (close it)."""
    if args.executor == "local" and not args.ray_address:
        return None
    from afterburner.executor import get_executor

    return get_executor(args.executor, address=args.ray_address, per_node=per_node)
