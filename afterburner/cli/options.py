"""Options several subcommands share the spelling of, and old spellings that still work.

The naming rule: ``--out`` is always a file; a folder is ``--...-dir`` (``--runs-dir`` for the runs
folder, ``--results-dir`` for a benchmark's results). An old spelling stays accepted, hidden from
``--help``, and says once on stderr what to write instead.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_renamed"]


class _Renamed(argparse.Action):
    """Stores like the new option, after a note on stderr that the old spelling is deprecated."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string=None
    ) -> None:
        print(
            f"afterburner: note: {option_string} is deprecated, use {self.new} (it means the same)",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def add_renamed(p: argparse.ArgumentParser, old: str, new: str, dest: str) -> None:
    """Accept `old` as a deprecated spelling of the option `new` (whose value goes to `dest`)."""
    p.add_argument(
        old, dest=dest, action=_Renamed, new=new, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
