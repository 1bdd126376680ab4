"""Options several subcommands share the spelling of, and old spellings that still work.

The optimizer's settings are flags made from `afterburner.settings.Settings` (`add_settings_args`: the
flag, type, default and help of each field) and read back into one (`settings_from_args`); optimize
takes them all, bench the ones it shares (--rounds, --candidates, --repeats, --timeout, --memory-limit).

The naming rule: ``--out`` is always a file; a folder is ``--...-dir`` (``--runs-dir`` for the runs
folder, ``--results-dir`` for a benchmark's results). An old spelling stays accepted, hidden from
``--help``, and says once on stderr what to write instead.
"""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from afterburner.settings import Settings, option_name

__all__ = ["add_renamed", "add_settings_args", "settings_from_args"]


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


def _cli_fields(names: Sequence[str] | None = None) -> list[Any]:
    """The `Settings` fields that are flags (all of them, or those `names`, option spellings, in order)."""
    flags = {option_name(f): f for f in fields(Settings) if f.metadata.get("cli", True)}
    return list(flags.values()) if names is None else [flags[n] for n in names]


def _by_strategy() -> dict[str, str]:
    """The strategies' own defaults, for the help of --rounds and --candidates."""
    from afterburner.agent.strategies import STRATEGIES as st

    single = [name for name, x in st.items() if x.single_round]
    one_round = f"; {', '.join(single)}: all rounds x candidates samples in one round" if single else ""
    rounds = ", ".join(f"{name} {x.rounds}" for name, x in st.items() if not x.single_round)
    candidates = ", ".join(f"{name} {x.candidates}" for name, x in st.items())
    return {"rounds_by_strategy": rounds + one_round, "candidates_by_strategy": candidates + one_round}


def add_settings_args(p: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    """A flag for each setting (or for those `names`): ``--time-budget`` for `time_budget_s` (its option
    spelling), typed by the field, with the field's default, choices, metavar and help."""
    hints = typing.get_type_hints(Settings)
    notes = _by_strategy()
    for f in _cli_fields(names):
        kind = next(t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
        option = option_name(f)
        kw: dict[str, Any] = {
            "dest": option,
            "default": f.default,
            "help": f.metadata["help"].format(**notes),
        }
        if kind is bool:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = kind
        for key in ("choices", "metavar"):
            if key in f.metadata:
                kw[key] = f.metadata[key]
        p.add_argument("--" + option.replace("_", "-"), **kw)


def settings_from_args(args: argparse.Namespace, names: Sequence[str] | None = None) -> Settings:
    """The `Settings` the flags of `add_settings_args` (all, or those `names`) were given."""
    given = {n: getattr(args, n) for n in map(option_name, _cli_fields(names)) if hasattr(args, n)}
    return Settings().with_options(**given)
