"""Replay models: the scripted backend answering with a known solution, so the metrics can be checked.

``--backend scripted --model replay:WHAT`` makes every completion for a task the same known code, in the
format the strategy asks for (a fenced block; ``<thinking>``/``<solution>`` for ``afterburner``):

- ``replay:reference``: the task's reference solution (pass@1 = 1, Time% = 100 up to measurement);
- ``replay:code``: the task's starting code (nothing to gain: speedup 1.0);
- ``replay:wrong``: a stub that defines the entry point and returns None (wrong on any sensible test).
"""

from __future__ import annotations

from typing import Any

from afterburner.errors import BackendError
from afterburner.task import Task, parse_entry_point

__all__ = ["REPLAY_KINDS", "is_replay", "replay_backend", "replay_code", "replay_reply"]

REPLAY_KINDS = ("reference", "code", "wrong")


def is_replay(backend: str, model: str | None) -> bool:
    return backend == "scripted" and bool(model) and str(model).startswith("replay:")


def replay_code(task: Task, kind: str) -> str:
    """The code a replay model answers with for `task`."""
    if kind == "reference":
        return task.reference or task.code
    if kind == "code":
        return task.code or task.reference or ""
    if kind == "wrong":
        name, instantiate, method = parse_entry_point(task.entry_point)
        if method is None:
            return f"def {name}(*args, **kwargs):\n    return None\n"
        if instantiate:
            return f"class {name}:\n    def {method}(self, *args, **kwargs):\n        return None\n"
        return f"class {name}:\n    @staticmethod\n    def {method}(*args, **kwargs):\n        return None\n"
    raise BackendError(
        f"unknown replay model 'replay:{kind}'; choose one of replay:{', replay:'.join(REPLAY_KINDS)}"
    )


def replay_reply(code: str, strategy: str) -> str:
    """`code` as a model would answer it for the strategy's prompt."""
    block = f"```python\n{code.rstrip()}\n```\n"
    if strategy == "afterburner":
        return f"<thinking>\nReplaying a known solution.\n</thinking>\n<solution>\n{block}</solution>\n"
    return block


def replay_backend(task: Task, model: str, strategy: str) -> Any:
    """A scripted backend whose every completion is the replayed code for this task and strategy."""
    from afterburner.llm import get_backend

    kind = str(model).removeprefix("replay:")
    code = replay_code(task, kind)
    if not code:
        raise BackendError(f"task {task.name!r} has no code to replay for {model!r}")
    reply = replay_reply(code, strategy)
    backend = get_backend("scripted", replies=lambda conversation, i: reply)
    backend.model = model
    return backend
