"""What a mechanical rewrite gives: a candidate (`Rewrite`), or the reason it is not offered (`Skipped`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rewrite:
    """A mechanical candidate: `code` is the whole module rewritten, `why` one line for people."""

    name: str
    code: str
    why: str


@dataclass(frozen=True)
class Skipped:
    """A rewrite that found its pattern but is not offered, and why."""

    name: str
    reason: str
