"""afterburner: make code faster with language models, and prove it.

The public API is small and imported lazily, so ``import afterburner`` stays cheap (no torch, no
langgraph) until a heavy piece is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Task": "afterburner.task",
    "Case": "afterburner.task",
    "load_target": "afterburner.task",
    "load_task_file": "afterburner.task",
    "load_problem_set": "afterburner.task",
    "AfterburnerError": "afterburner.errors",
    "Sandbox": "afterburner.sandbox",
    "SandboxConfig": "afterburner.sandbox",
    "Status": "afterburner.sandbox",
    "measure": "afterburner.sandbox",
    "compare": "afterburner.sandbox",
    "optimize": "afterburner.agent.optimizer",
    "Optimizer": "afterburner.agent.optimizer",
    "OptimizationResult": "afterburner.agent.optimizer",
    "ProgressDisplay": "afterburner.progress",
    "build_graph": "afterburner.agent.graph",
    "read_trajectory": "afterburner.trajectory",
    "get_backend": "afterburner.llm",
    "Sampling": "afterburner.llm",
    "Completion": "afterburner.llm",
    "load_suite": "afterburner.suite",
    "run_bench": "afterburner.bench",
    "BenchSettings": "afterburner.bench",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'afterburner' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
