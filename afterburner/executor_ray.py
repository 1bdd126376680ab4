"""The Ray executor: units of work on the nodes of a Ray cluster, one warm sandbox pool per node.

Each live node with CPUs gets one `AfterburnerNode` actor: a long-lived process that runs up to
`per_node` units at a time in threads and keeps, for as long as the executor lives, what the units find
through `afterburner.executor.node_sandbox` / `node_lock` / `node_cached` (the warm `Sandbox` with one
worker per CPU of the node, the timing lock, backends and baselines). A unit is an actor call
``run(fn, item)``; `map` hands items to the node with a free slot and yields the results in order.

Failures: an actor whose process dies (killed, OOM, its node lost) is restarted by Ray (on another node
when its own is gone: the node affinity is soft) and the calls it was running are retried there
(``max_task_retries``); a call that still fails for a system reason is handed to another node, up to
`max_retries` times. An exception raised by ``fn`` itself is not retried: it is raised at its place in
the results, as with the local executor.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import ray
from ray.exceptions import ActorDiedError, RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from afterburner.errors import AfterburnerError, ConfigError
from afterburner.executor import close_node, set_node_workers

__all__ = ["AfterburnerNode", "RayExecutor"]

T = TypeVar("T")
R = TypeVar("R")


@ray.remote
class AfterburnerNode:
    """The process on one node that runs the units sent to it (threads: `max_concurrency`)."""

    def __init__(self, cpus: int) -> None:
        set_node_workers(cpus)

    def run(self, fn: Callable[[Any], Any], item: Any) -> Any:
        return fn(item)

    def pid(self) -> int:
        return os.getpid()

    def shutdown(self) -> None:
        close_node()


class RayExecutor:
    """Units on a Ray cluster (see the module docstring). Use it as a context manager, or `close()` it."""

    name = "ray"
    distributed = True

    def __init__(
        self,
        address: str | None = None,
        *,
        per_node: int | None = None,
        max_retries: int = 3,
        num_cpus: int | None = None,
    ) -> None:
        if per_node is not None and per_node < 1:
            raise ConfigError(f"units per node must be at least 1 (got {per_node})")
        self.max_retries = max_retries
        self._started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
            if address is None:
                options.update(address="local", num_cpus=num_cpus)
            else:
                options["address"] = address
            try:
                ray.init(**options)
            except ConnectionError as e:
                raise ConfigError(f"cannot reach the Ray cluster at {address!r}: {e}") from None
            self._started = True
        nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1]
        if not nodes:
            self.close()
            raise ConfigError("the Ray cluster has no live node with a CPU to run sandboxes on")
        self.actors: list[Any] = []
        self.slots: list[int] = []
        for node in nodes:
            cpus = int(node["Resources"]["CPU"])
            slots = per_node or cpus
            self.actors.append(
                AfterburnerNode.options(
                    num_cpus=0,  # the node's cores are the sandbox's, not Ray's to hand out to this actor
                    max_concurrency=slots,
                    max_restarts=-1,
                    max_task_retries=max_retries,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=True),
                ).remote(cpus)
            )
            self.slots.append(slots)
        self._alive = [True] * len(self.actors)

    @property
    def nodes(self) -> int:
        return len(self.actors)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """The results of `fn` over `items`, in order, computed on the cluster's nodes."""
        fn_ref = ray.put(fn)
        source = enumerate(items)
        window = 2 * sum(self.slots)  # results held back waiting for an earlier one: at most this many
        load = [0] * len(self.actors)
        pending: dict[Any, tuple[int, int, Any]] = {}  # call -> (index, actor, item)
        retry: deque[tuple[int, Any]] = deque()
        attempts: dict[int, int] = {}
        results: dict[int, tuple[bool, Any]] = {}
        submitted = emitted = 0
        exhausted = False
        try:
            while True:
                while (a := self._free_actor(load)) is not None:
                    if retry:
                        i, item = retry.popleft()
                    elif not exhausted and submitted < emitted + window:
                        nxt = next(source, None)
                        if nxt is None:
                            exhausted = True
                            continue
                        i, item = nxt
                        submitted += 1
                    else:
                        break
                    pending[self.actors[a].run.remote(fn_ref, item)] = (i, a, item)
                    load[a] += 1
                while emitted in results:
                    ok, value = results.pop(emitted)
                    emitted += 1
                    if not ok:
                        raise value
                    yield value
                if not pending:
                    if exhausted and not retry:
                        return
                    if not any(self._alive):
                        raise AfterburnerError("every Ray node actor died; see the Ray logs (ray status)")
                    continue
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    i, a, item = pending.pop(ref)
                    load[a] -= 1
                    try:
                        results[i] = (True, ray.get(ref))
                    except RayTaskError as e:  # fn raised: its own error, not retried
                        results[i] = (False, e.as_instanceof_cause())
                    except RayError as e:  # the process or node went away and Ray's retries ran out
                        if isinstance(e, ActorDiedError):
                            self._alive[a] = False
                        attempts[i] = attempts.get(i, 0) + 1
                        if attempts[i] > self.max_retries or not any(self._alive):
                            results[i] = (
                                False,
                                AfterburnerError(f"a unit failed {attempts[i]} times on Ray: {e}"),
                            )
                        else:
                            retry.append((i, item))
        finally:
            for ref in pending:
                with contextlib.suppress(Exception):  # already finished or gone
                    ray.cancel(ref)

    def _free_actor(self, load: list[int]) -> int | None:
        """The live actor with the most free slots (None: all busy)."""
        best, room = None, 0
        for a, (alive, slots) in enumerate(zip(self._alive, self.slots, strict=True)):
            if alive and slots - load[a] > room:
                best, room = a, slots - load[a]
        return best

    def close(self) -> None:
        actors, self.actors = getattr(self, "actors", []), []
        if actors and ray.is_initialized():  # (after a shutdown, a call would start a new cluster)
            try:  # the sandboxes stop their workers, then the processes go
                ray.get([a.shutdown.remote() for a in actors], timeout=30)
            except Exception:  # a node that is gone or stuck is killed all the same
                pass
            for actor in actors:
                with contextlib.suppress(Exception):  # already gone
                    ray.kill(actor)
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
