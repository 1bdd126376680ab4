"""`run_bench` on a distributed executor (``--executor ray``): one optimizer run per unit.

The unit is one (task, strategy, model): the optimizer run and the re-measurement of its result, i.e.
exactly one line of ``results.jsonl``. That is the granularity of resuming (a record is done or not), so
a retried unit repeats one optimizer run and nothing else; it is also small enough to spread a suite
over many nodes (tasks x strategies units, not tasks). A record stays self-consistent wherever it ran:
its speedups are measured on one node, against the starting code measured on the same node.

The unit runs on the node's warm sandbox (`afterburner.executor.node_sandbox`), with the node's timing
lock (two measurements on one node never overlap), a backend built once per node, and the node's
per-task cache of measured code. It writes its trajectory and run files into a temporary directory on
the node and returns them with the record; the driver writes them where the local executor would
(``OUT/trajectories/...``, ``OUT/runs/...``), so the output folder is the same either way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from afterburner.bench.evaluate import CodeCache, TaskRecord
from afterburner.task import Task

__all__ = ["BenchJob", "write_outputs"]


@dataclass(frozen=True)
class BenchJob:
    """The picklable unit: ``job((task, strategy, model)) -> (record, {relative path: file text})``."""

    settings: Any  # BenchSettings
    sandbox_config: Any  # SandboxConfig
    optimize: Callable[..., Any] | None = None  # None: afterburner.optimize (tests pass stand-ins)

    def __call__(self, item: tuple[Task, str, str]) -> tuple[TaskRecord, dict[str, str]]:
        from afterburner.bench.runner import SerializedSandbox, _default_optimize, _run_one
        from afterburner.executor import node_cached, node_lock, node_sandbox

        task, strategy, model = item
        sandbox = SerializedSandbox(node_sandbox(self.sandbox_config), node_lock())
        cache = node_cached(("bench-code", task.fingerprint()), CodeCache)
        backends = self._backends(model)
        tmp = Path(tempfile.mkdtemp(prefix="afterburner-bench-"))
        try:
            rec = _run_one(
                task, strategy, model, self.settings, sandbox, backends,
                self.optimize or _default_optimize, cache, tmp,
            )  # fmt: skip
            files = {
                str(p.relative_to(tmp)): p.read_text(encoding="utf-8")
                for p in sorted(tmp.rglob("*"))
                if p.is_file()
            }
            if rec.trajectory_path and Path(rec.trajectory_path).is_relative_to(tmp):
                rec = replace(rec, trajectory_path=str(Path(rec.trajectory_path).relative_to(tmp)))
            return rec, files
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _backends(self, model: str) -> dict[str, Any]:
        """The node's backend for `model` (built once per node), under its lock for a local model."""
        from afterburner.bench.replay import is_replay
        from afterburner.bench.runner import LOCAL_BACKENDS, SerializedBackend, model_label
        from afterburner.executor import node_cached, node_lock

        s = self.settings
        if is_replay(s.backend, model):
            return {}

        model_id = next((m for m in s.models if model_label(m) == model), None)

        def make() -> Any:
            from afterburner.llm import get_backend

            backend = get_backend(s.backend, model=model_id) if model_id else get_backend(s.backend)
            return SerializedBackend(backend, node_lock()) if s.backend in LOCAL_BACKENDS else backend

        return {model: node_cached(("bench-backend", s.backend, model), make)}


def write_outputs(out: Path, rec: TaskRecord, files: dict[str, str]) -> TaskRecord:
    """Write a unit's files under `out` (an earlier attempt's trajectory kept as ``*.interrupted.jsonl``,
    as the local executor does) and point the record at its trajectory there."""
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.startswith("trajectories") and path.exists():
            path.replace(path.with_name(path.stem + ".interrupted.jsonl"))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    if rec.trajectory_path in files:
        rec = replace(rec, trajectory_path=str(out / rec.trajectory_path))
    return rec
