"""Run the loop: `optimize(task, ...)` / `Optimizer(...).run(task, on_event=...)` -> `OptimizationResult`.

A run lives in ``<out_dir>/<run_id>/``: ``trajectory.jsonl`` (every step), ``checkpoints.sqlite`` (the
langgraph checkpoints: ``resume=run_id`` continues an interrupted run), ``run.json`` (the task and
settings, so a run can be resumed by its id alone) and, once it stops, ``best.py`` (the best code: the
whole module, ready to use). Ctrl-C stops cleanly and returns the best so far.

Events (``on_event(name, payload)``; `afterburner.progress.ProgressDisplay` shows them on stderr), in the
order a run meets them: loading_model, started, measuring (per timed run: what = original, candidate,
best (only a new best measured alone, without a profile: its comparison's runs are otherwise its
figures), final), original_measured, round_started, tokens (per decoding step, when the backend streams),
generated, candidate_evaluated (one per candidate, as its verdict lands), best_improved, round_finished,
finished. ``measuring`` events of candidates come from the threads that evaluate them: a callback that
keeps state takes a lock (`ProgressDisplay` does).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from afterburner.agent.limits import ORIGINAL_TIMEOUT_S, with_limits
from afterburner.agent.state import RunContext
from afterburner.agent.strategies import Strategy, get_strategy
from afterburner.errors import BackendError, ConfigError, TaskError
from afterburner.results import Measurement
from afterburner.settings import Settings
from afterburner.task import Task, load_target
from afterburner.trajectory import TrajectoryWriter

__all__ = ["DEFAULT_OUT_DIR", "OptimizationResult", "Optimizer", "optimize"]

DEFAULT_OUT_DIR = "afterburner-runs"
BEST_FILE = "best.py"


@dataclass
class OptimizationResult:
    """What a run produced. `speedup` is original vs best measured interleaved in one run.

    status: ``improved`` (best differs from the original and is not slower), ``unchanged`` (the original
    is returned as it was) or ``interrupted`` (stopped early; the best so far, speedup an estimate).
    `improved` says whether the gain is statistically significant.
    """

    status: str
    original_code: str
    best_code: str
    speedup: float
    speedup_ci: tuple[float, float]
    improved: bool
    rounds: int
    stop_reason: str
    rounds_best_code: list[str]
    tokens_used: int
    llm_calls: int
    trajectory_path: str | None
    baseline: Measurement | None
    best: Measurement | None
    run_id: str = ""
    run_dir: str | None = None
    best_path: str | None = None  # <run_dir>/best.py: the best code as a file
    final: dict | None = None  # Comparison.to_dict() of original vs best, interleaved (the speedup's runs)
    memory_ratio: float | None = None
    history: list[dict] = field(default_factory=list)
    task: Task | None = None
    strategy: str = ""
    elapsed_s: float = 0.0

    def diff(self) -> str:
        """Unified diff original -> best ("" when unchanged)."""
        name = Path(self.task.source_path).name if self.task and self.task.source_path else "code.py"
        return "".join(
            difflib.unified_diff(
                self.original_code.splitlines(keepends=True),
                self.best_code.splitlines(keepends=True),
                fromfile=f"a/{name}",
                tofile=f"b/{name}",
            )
        )

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "run_id": self.run_id,
            "strategy": self.strategy,
            "speedup": self.speedup,
            "speedup_ci": list(self.speedup_ci),
            "improved": self.improved,
            "memory_ratio": self.memory_ratio,
            "rounds": self.rounds,
            "stop_reason": self.stop_reason,
            "tokens_used": self.tokens_used,
            "llm_calls": self.llm_calls,
            "elapsed_s": self.elapsed_s,
            "trajectory": self.trajectory_path,
            "run_dir": self.run_dir,
            "best_path": self.best_path,
            "best_code": self.best_code,
            "original_code": self.original_code,
            "rounds_best_code": list(self.rounds_best_code),
            "history": self.history,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "best": self.best.to_dict() if self.best else None,
            "final": self.final,
        }


def _new_run_id(task: Task) -> str:
    # the random part keeps two runs of one task started in the same second (a benchmark) apart
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{task.fingerprint()[:6]}-{secrets.token_hex(2)}"


class Optimizer:
    """The loop with its run directory, trajectory, checkpoints and events.

    ``Optimizer(backend="scripted", replies=[...]).run(task, on_event=lambda name, data: ...)``; events:
    round_started, candidate_evaluated, best_improved, finished (each gets a dict payload).
    The loop's settings are `afterburner.settings.Settings` (``settings=``, or its fields as keywords);
    other keyword options go to the backend (``get_backend(backend, model=model, **options)``).
    """

    def __init__(
        self,
        *,
        backend: Any = "transformers",
        model: str | None = None,
        strategy: str | Strategy = "default",
        settings: Settings | None = None,
        sandbox: Any = None,
        out_dir: str | Path = DEFAULT_OUT_DIR,
        trajectory: str | Path | None = None,
        checkpoint: bool = True,
        **options: Any,
    ) -> None:
        """`settings`, and/or any of its fields as a keyword (by name or its ``option`` spelling:
        ``rounds=3, timeout=5.0, memory_limit=2048``; keywords win over `settings`); the other keywords
        go to the backend."""
        chosen, backend_options = Settings.split(options)
        self.strategy = get_strategy(strategy)
        self.settings = (settings or Settings()).with_options(**chosen).resolved(self.strategy)
        self.backend_spec, self.model, self.backend_options = backend, model, backend_options
        self.sandbox = sandbox
        self.out_dir = Path(out_dir)
        self.trajectory_override = Path(trajectory) if trajectory else None
        self.checkpoint = checkpoint
        self._backend = None

    # -- pieces ----------------------------------------------------------------------------------------
    def _get_backend(self) -> Any:
        if self._backend is None:
            from afterburner.llm import get_backend

            try:
                self._backend = get_backend(self.backend_spec, model=self.model, **self.backend_options)
            except BackendError:
                raise
            except Exception as e:  # a model that fails to load: one clear line
                what = self.model or self.backend_spec
                raise BackendError(f"could not load the model {what!r}: {type(e).__name__}: {e}") from None
        return self._backend

    @property
    def backend_name(self) -> str:
        b = self.backend_spec
        return b if isinstance(b, str) else getattr(b, "name", type(b).__name__)

    def run_dir(self, run_id: str) -> Path:
        return self.out_dir / run_id

    # -- running ---------------------------------------------------------------------------------------
    def run(
        self,
        task: Task | str | None = None,
        on_event: Callable[[str, dict], None] | None = None,
        *,
        resume: str | None = None,
        run_id: str | None = None,
    ) -> OptimizationResult:
        """Optimize `task` (or continue the run `resume`, whose task is read from its run.json)."""
        run_id = resume or run_id
        if resume:
            task = self._resume(resume, task)
        if isinstance(task, str):
            raise TaskError("give a Task (see afterburner.load_target) or use optimize(target, tests=...)")
        if task is None:
            raise TaskError("nothing to optimize: give a task, or resume=RUN_ID")
        if self._backend is None and on_event is not None:
            on_event(
                "loading_model", {"event": "loading_model", "backend": self.backend_name, "model": self.model}
            )
        backend = self._get_backend()  # a model that fails to load stops here, before any file is written
        run_id = run_id or _new_run_id(task)
        run_dir = self.run_dir(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        traj_path = self.trajectory_override or run_dir / "trajectory.jsonl"
        if not resume:
            self._write_run_json(run_dir, run_id, task)
        with contextlib.ExitStack() as stack:
            sandbox = self._sandbox(stack)
            writer = stack.enter_context(TrajectoryWriter(traj_path))
            writer.write(
                "run",
                run_id=run_id,
                resumed=bool(resume),
                task=task.to_dict(),
                model=self.model or getattr(backend, "model", None),
                backend=self.backend_name,
                strategy=self.strategy.name,
                settings=self.settings.to_dict(),
            )
            ctx = RunContext(
                task=task,
                strategy=self.strategy,
                settings=self.settings,
                backend=backend,
                sandbox=sandbox,
                trajectory=writer,
                on_event=on_event,
                run_id=run_id,
            )
            ctx.emit("started", run_dir=str(run_dir), task=task.name, resumed=bool(resume))
            state, interrupted = self._run_graph(ctx, run_dir, stack)
            result = self._result(ctx, state, interrupted, str(traj_path), str(run_dir))
            self._finish(writer, run_dir, result, state)
        if interrupted:
            ctx.emit("finished", stop_reason="interrupted", rounds=result.rounds, best_speedup=result.speedup)
        return result

    def _resume(self, run_id: str, task: Task | str | None) -> Task | str | None:
        """Take the settings and strategy of the run `run_id` from its run.json (and its task, if none)."""
        meta_path = self.run_dir(run_id) / "run.json"
        if not meta_path.is_file():
            raise ConfigError(f"no run {run_id!r} to resume under {self.out_dir}/ (no {meta_path})")
        meta = json.loads(meta_path.read_text())
        self.settings = Settings.from_dict(meta["settings"])
        self.strategy = get_strategy(meta["strategy"])
        return Task.from_dict(meta["task"], where=f"run {run_id}") if task is None else task

    def _write_run_json(self, run_dir: Path, run_id: str, task: Task) -> None:
        """run.json: what `resume=run_id` needs to continue the run by its id alone."""
        meta = {
            "run_id": run_id,
            "task": task.to_dict(),
            "settings": self.settings.to_dict(),
            "strategy": self.strategy.name,
            "backend": self.backend_name,
            "model": self.model,
        }
        (run_dir / "run.json").write_text(json.dumps(meta, indent=1, default=repr))

    def _sandbox(self, stack: contextlib.ExitStack) -> Any:
        """The runs' sandbox under the settings' limits: the one given, or our own (closed by `stack`).
        Without a timeout the original runs under a generous one (agent/limits.py)."""
        s = self.settings
        memory = s.memory_limit_mib << 20 if s.memory_limit_mib else None
        if self.sandbox is not None:
            return with_limits(self.sandbox, s.timeout_s, memory)
        from afterburner.sandbox import Sandbox, SandboxConfig

        limits = {"timeout_s": s.timeout_s or ORIGINAL_TIMEOUT_S}
        sandbox = Sandbox(SandboxConfig(**limits, **({"memory_bytes": memory} if memory else {})))
        return stack.enter_context(sandbox)

    def _finish(
        self, writer: TrajectoryWriter, run_dir: Path, result: OptimizationResult, state: dict
    ) -> None:
        """best.py (when there is a best) and the trajectory's end record."""
        if result.best_code:
            best_path = run_dir / BEST_FILE
            best_path.write_text(result.best_code, encoding="utf-8")
            result.best_path = str(best_path)
        writer.write(
            "end",
            run_id=result.run_id,
            status=result.status,
            stop_reason=result.stop_reason,
            rounds=result.rounds,
            best_code=result.best_code,
            speedup=result.speedup,
            speedup_ci=list(result.speedup_ci),
            improved=result.improved,
            memory_ratio=result.memory_ratio,
            tokens_used=result.tokens_used,
            final=state.get("final"),
            limits=state.get("limits"),
        )

    def _run_graph(self, ctx: RunContext, run_dir: Path, stack: contextlib.ExitStack) -> tuple[dict, bool]:
        from afterburner.agent.graph import build_graph

        saver = None
        if self.checkpoint:
            from langgraph.checkpoint.sqlite import SqliteSaver

            conn = sqlite3.connect(str(run_dir / "checkpoints.sqlite"), check_same_thread=False)
            stack.callback(conn.close)
            saver = SqliteSaver(conn)
        else:
            from langgraph.checkpoint.memory import InMemorySaver

            saver = InMemorySaver()
        graph = build_graph(checkpointer=saver)
        config = {
            "configurable": {"thread_id": ctx.run_id},
            "recursion_limit": 10 + 5 * max(ctx.settings.rounds, 1),
        }
        snapshot = graph.get_state(config)
        state: dict = dict(snapshot.values or {})
        if state and not snapshot.next:
            return state, False  # this run already finished
        if state.get("limits"):  # resumed: the limits picked from the original still hold
            limits = ctx.extra["limits"] = state["limits"]
            ctx.sandbox = with_limits(ctx.sandbox, limits["timeout_s"], limits["memory_bytes"])
        try:
            for values in graph.stream(None if state else {}, config, context=ctx, stream_mode="values"):
                state = dict(values)
        except KeyboardInterrupt:
            latest = graph.get_state(config).values
            return dict(latest or state), True
        return state, False

    def _result(
        self, ctx: RunContext, state: dict, interrupted: bool, traj: str, run_dir: str
    ) -> OptimizationResult:
        task = ctx.task
        original = task.code
        best_code = state.get("best_code", original) if state else original
        final = state.get("final")
        nan = float("nan")
        mem_ratio = None
        if interrupted:
            status, stop = "interrupted", "interrupted"
            speedup = state.get("best_speedup", 1.0) if best_code != original else 1.0
            ci: tuple[float, float] = (nan, nan)
            improved = False
        else:
            stop = state.get("stop_reason", "") or "max_rounds"
            if final and best_code != original:
                speedup, ci = final["speedup"], tuple(final["speedup_ci"])
                mem_ratio = final.get("memory_ratio")
                if ctx.settings.goal == "memory":
                    improved = mem_ratio is not None and mem_ratio < 1 - ctx.settings.min_gain
                else:
                    improved = bool(final["improved"])
                status = "improved"
            else:
                speedup, ci, improved, status = 1.0, (1.0, 1.0), False, "unchanged"
                if not original and best_code:
                    status, speedup, ci = "improved", nan, (nan, nan)  # written from a description
        return OptimizationResult(
            status=status,
            original_code=original,
            best_code=best_code,
            speedup=speedup,
            speedup_ci=(float(ci[0]), float(ci[1])),
            improved=improved,
            rounds=state.get("round", 0),
            stop_reason=stop,
            rounds_best_code=list(state.get("rounds_best_code", [])),
            tokens_used=state.get("tokens_used", 0),
            llm_calls=state.get("llm_calls", 0),
            trajectory_path=traj,
            baseline=Measurement.from_dict(state.get("baseline")),
            best=Measurement.from_dict(state.get("best")),
            run_id=ctx.run_id,
            run_dir=run_dir,
            memory_ratio=mem_ratio if mem_ratio is None or math.isfinite(mem_ratio) else None,
            history=list(state.get("history", [])),
            task=task,
            strategy=ctx.strategy.name,
            elapsed_s=state.get("elapsed_s", 0.0),
            final=final if not interrupted and status == "improved" else None,
        )


def optimize(
    task: Task | str,
    *,
    tests: str | Path | None = None,
    workload: str | Path | None = None,
    sizes: list[int] | None = None,
    on_event: Callable[[str, dict], None] | None = None,
    progress: bool = False,
    resume: str | None = None,
    **options: Any,
) -> OptimizationResult:
    """Optimize a task (or ``"path/file.py::name"`` with `tests`/`workload` files); see `Optimizer`.

    ``progress=True`` shows the run on stderr as it goes (`afterburner.progress.ProgressDisplay`: every
    candidate's verdict, tokens and measurements in progress), besides any `on_event` callback.
    """
    if isinstance(task, str):
        task = load_target(task, tests=tests, workload=workload, sizes=sizes)
    if not progress:
        return Optimizer(**options).run(task, on_event=on_event, resume=resume)
    from afterburner.progress import ProgressDisplay

    with ProgressDisplay() as display:
        callback = display if on_event is None else _both(display, on_event)
        return Optimizer(**options).run(task, on_event=callback, resume=resume)


def _both(
    first: Callable[[str, dict], None], second: Callable[[str, dict], None]
) -> Callable[[str, dict], None]:
    def both(name: str, data: dict) -> None:
        first(name, data)
        second(name, data)

    return both
