"""Trajectories: every step of an optimization run as crash-safe JSONL, the training data for GRPO/SFT/DPO.

Format ``afterburner.trajectory/2``, one JSON object per line, each with ``"format"`` and ``"type"``:

- ``run``: run id, ``task`` (``Task.to_dict()``, so rewards can be recomputed), model, backend, strategy,
  settings. Written again with ``"resumed": true`` when an interrupted run continues.
- ``step``: one per candidate: round, index, ``origin``, ``messages`` (the prompt), ``completion`` (text),
  token counts, ``extraction`` (ok, reason), ``code``, ``check`` (``CheckResult.to_dict()``),
  ``comparison`` (against the best at that time), ``accepted``, ``best_speedup`` (running estimate vs
  the original). ``origin`` is ``"model"``, or ``"rewrite:<name>"`` for a mechanical rewrite
  (`afterburner.agent.rewrites`), which answered no prompt: its ``messages`` is null, its
  ``completion`` empty, ``why`` says what it changed. ``restored``: the names whose setup lines, dropped
  by the model's rewrite but still read, were put back into ``code`` (`afterburner.agent.repair`).
- ``end``: status, stop reason, best code, speedup and interval (original vs best, one interleaved run).

Version 2 added ``origin``: a step of a version-1 file (still read) is the model's. Readers that use
steps as the model's answers (training) must skip the others: `step_origin`.

Each record is written, flushed and fsync'ed before the run moves on, so a crash loses at most the
line being written; `read_trajectory` skips broken lines and counts them.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FORMAT",
    "FORMATS",
    "Trajectory",
    "TrajectoryWriter",
    "json_safe",
    "read_trajectory",
    "step_origin",
]

FORMAT = "afterburner.trajectory/2"
FORMATS = ("afterburner.trajectory/1", FORMAT)  # what `read_trajectory` reads


def step_origin(step: dict) -> str:
    """Who wrote a step's code: ``"model"`` or ``"rewrite:<name>"`` (version-1 steps: the model)."""
    return str(step.get("origin") or "model")


def json_safe(obj: Any) -> Any:
    """JSON-safe: NaN/inf become None (strict JSON readers choke on them), tuples become lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    if hasattr(obj, "to_dict"):
        return json_safe(obj.to_dict())
    return repr(obj)


class TrajectoryWriter:
    """Appends records to a JSONL file, one durable line at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, type_: str, **fields: Any) -> dict:
        record = {"format": FORMAT, "type": type_, "time": time.time(), **fields}
        line = json.dumps(json_safe(record), ensure_ascii=False, allow_nan=False)
        self._f.write(line + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())
        return record

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Trajectory:
    """The records of a trajectory file, and how many lines could not be read."""

    records: list[dict] = field(default_factory=list)
    broken_lines: int = 0

    def of_type(self, type_: str) -> list[dict]:
        return [r for r in self.records if r.get("type") == type_]

    @property
    def run(self) -> dict | None:
        runs = self.of_type("run")
        return runs[0] if runs else None

    @property
    def steps(self) -> list[dict]:
        return self.of_type("step")

    @property
    def end(self) -> dict | None:
        ends = self.of_type("end")
        return ends[-1] if ends else None


def read_trajectory(path: str | Path) -> Trajectory:
    """Read a trajectory JSONL file; lines that are not JSON objects of this format are counted, skipped."""
    out = Trajectory()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                out.broken_lines += 1
                continue
            if not isinstance(rec, dict) or rec.get("format") not in FORMATS:
                out.broken_lines += 1
                continue
            out.records.append(rec)
    return out
