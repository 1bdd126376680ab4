"""Where units of work run: in this process (``local``, the default) or on a Ray cluster (``ray``).

An `Executor` maps a picklable function over items and yields the results **in the items' order**:

    with get_executor("ray", address="ray://head:10001") as ex:     # or get_executor("local", workers=2)
        for outcome in ex.map(job, items):
            ...

The units are coarse and self-contained (a task and a candidate's code in, plain data out): one whole
optimizer run of one (task, strategy, model) for ``bench``, one task's optimizer run for ``train collect``,
one candidate evaluation (check, then measure/compare) for the training rewards.

A unit finds what it needs on the machine it runs on through the ``node_*`` functions: the process's
warm `Sandbox` (started on first use, reused by every later unit, closed at exit), the process's
timing lock, and a per-process cache (backends, baselines). With the Ray executor each node runs one
long-lived process for these units (an actor), so "per process" there means "per node": the pool stays
warm across units for as long as the executor lives. Ray itself is imported only by
`afterburner.executor_ray`, when ``ray`` is chosen.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any, Protocol, TypeVar

from afterburner.errors import ConfigError

__all__ = [
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "close_node",
    "get_executor",
    "node_cached",
    "node_lock",
    "node_sandbox",
    "node_workers",
    "set_node_workers",
]

EXECUTORS = ("local", "ray")

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs ``fn(item)`` for every item; results come back in the items' order."""

    name: str
    distributed: bool  # True: units run in other processes (fn and items are pickled)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Units in this process: one after the other (``workers=1``) or in `workers` threads."""

    name = "local"
    distributed = False

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ConfigError(f"the local executor needs at least 1 worker (got {workers})")
        self.workers = workers

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """The results of `fn` over `items`, in order; an exception of `fn` is raised at its place."""
        if self.workers == 1:
            for item in items:
                yield fn(item)
            return
        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            futures = [pool.submit(fn, item) for item in items]
            for future in futures:
                yield future.result()
        finally:  # on an error or Ctrl-C: nothing new starts, running units finish
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get_executor(
    name: str = "local", *, address: str | None = None, workers: int = 1, per_node: int | None = None
) -> Executor:
    """The executor called `name`.

    ``local``: `workers` threads in this process. ``ray``: the cluster at `address` (``auto``, ``HOST:PORT``
    or ``ray://HOST:10001``; None starts a local one-node cluster on 127.0.0.1), with `per_node` units at
    a time on each node (None: as many as the node has CPUs).
    """
    if name == "local":
        if address:
            raise ConfigError("--ray-address needs --executor ray")
        return LocalExecutor(workers)
    if name != "ray":
        raise ConfigError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
    import sys

    if address is None and "ray" not in sys.modules:
        # a cluster we start ourselves serves this machine only: bind it to the loopback address
        # (Ray's switch for one-node clusters; without it Ray listens on the machine's public address)
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        from afterburner.executor_ray import RayExecutor
    except ImportError as e:
        if "ray" not in str(e):
            raise
        raise ConfigError("--executor ray needs Ray: pip install 'afterburner[ray]'") from None
    return RayExecutor(address, per_node=per_node)


# ---------------------------------------------------------------------------------------------------
# what a unit finds on its node (in its process)

_LOCK = threading.Lock()
_NODE: dict[str, Any] = {"workers": None, "lock": threading.RLock()}
_SANDBOXES: dict[tuple, Any] = {}
_CACHE: OrderedDict[Any, Any] = OrderedDict()
_CACHE_SIZE = 512


def set_node_workers(n: int | None) -> None:
    """The sandbox size this process's units get by default (the Ray actor sets its node's CPU count)."""
    _NODE["workers"] = n


def node_workers() -> int | None:
    """The default sandbox size of this process (None: one worker per core, the `Sandbox` default)."""
    return _NODE["workers"]


def node_lock() -> threading.RLock:
    """The process's timing lock: measurements of units running side by side never overlap."""
    return _NODE["lock"]


def node_sandbox(config: Any = None, workers: int | None = None) -> Any:
    """The process's warm `Sandbox` for `config` (a `SandboxConfig`, a dict of its fields, or None) and
    `workers` (None: `node_workers()`), started on first use and closed at exit."""
    from afterburner.sandbox import Sandbox, SandboxConfig

    if config is None or isinstance(config, dict):
        try:
            config = SandboxConfig(**(config or {}))
        except TypeError as e:
            raise ConfigError(
                f"sandbox: {e} (the keys are afterburner.sandbox.SandboxConfig fields)"
            ) from None
    workers = workers or node_workers()
    key = (os.getpid(), workers, json.dumps(asdict(config), sort_keys=True, default=str))
    with _LOCK:
        sb = _SANDBOXES.get(key)
        if sb is None:
            sb = _SANDBOXES[key] = Sandbox(config, workers=workers)
            atexit.register(_close_sandbox, key)
        return sb


def _close_sandbox(key: tuple) -> None:
    sb = _SANDBOXES.pop(key, None)
    if sb is not None:
        try:
            sb.close()
        except Exception:  # at exit, nothing left to tell
            pass


def close_node() -> None:
    """Close this process's sandboxes and drop its cached values (the Ray actor, before it stops)."""
    for key in list(_SANDBOXES):
        _close_sandbox(key)
    with _LOCK:
        _CACHE.clear()


def node_cached(key: Any, make: Callable[[], T]) -> T:
    """A per-process value (a backend, a cache of measurements), made once per key (the last 512 kept)."""
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = make()
    with _LOCK:
        value = _CACHE.setdefault(key, value)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value
