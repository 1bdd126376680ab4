"""Run the optimizer over a suite for several strategies and models, interleaved per task, resumably.

For each task, every (strategy, model) runs one after the other (task 1: A, B; task 2: A, B; ...), so a
comparison shares the machine's conditions. `workers` tasks run at the same time in threads; the code
under test always runs in the sandbox's own worker processes, each pinned to its own core. Timing runs
(`Sandbox.measure` / `Sandbox.compare`, the optimizer's and the benchmark's) are serialized by one lock,
so two measurements never overlap; with a local model (transformers, vllm) generation takes the same lock,
as it uses every core. Checks (correctness only) run concurrently.

Records go to ``OUT/results.jsonl`` as they finish (one line per (task, strategy, model), flushed), so a
crash loses nothing and ``resume=True`` skips what is done; at the end ``results.json``, ``summary.md``
and the plots are written from all the records.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from afterburner.bench.evaluate import CodeCache, TaskRecord, evaluate_code
from afterburner.bench.replay import REPLAY_KINDS, is_replay, replay_backend
from afterburner.errors import AfterburnerError, ConfigError
from afterburner.metrics import DEFAULT_THRESHOLD, DEFAULT_TOLERANCE, Aggregate, Point, aggregate, round_curve
from afterburner.settings import Settings
from afterburner.suite import BrokenTask, Suite, load_suite, validate_suite
from afterburner.task import Task

__all__ = ["BenchReport", "BenchSettings", "run_bench"]

LOCAL_BACKENDS = ("transformers", "vllm")
# settings that change the results: a resumed run must use the same ones
_RESUME_KEYS = ("backend", "rounds", "candidates", "repeats", "min_gain", "with_solution")


@dataclass(frozen=True)
class BenchSettings:
    """What to run. `models` entries are model ids for the backend (None: its default)."""

    strategies: tuple[str, ...] = ("default",)
    models: tuple[str | None, ...] = (None,)
    backend: str = "transformers"
    rounds: int | None = None  # None: the strategy's default
    candidates: int | None = None
    repeats: int | None = None  # timing repeats of every measurement, the optimizer's too (None: adaptive)
    min_gain: float = 0.05
    workers: int = 1
    threshold: float = DEFAULT_THRESHOLD  # the significant-speedup bar
    tolerance: float = DEFAULT_TOLERANCE  # "at least as good as a solution"
    curves: bool = True  # evaluate the best code after every round (the per-round curves)
    with_solution: bool = False  # problem sets: start from the reference instead of the description
    timeout: float | None = None  # wall-clock limit of one run, s (None: picked from each task's original)
    memory_limit: int | None = None  # address-space limit of one run, MiB (None: the sandbox's, 4096)

    def __post_init__(self) -> None:
        if not self.strategies:
            raise ConfigError("give at least one --strategy")
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1 (got {self.workers})")
        Settings().with_options(**self.optimizer_options())  # the optimizer's own checks of them

    def optimizer_options(self) -> dict[str, Any]:
        """The settings every optimizer run of the bench is given (`afterburner.Settings` fields)."""
        return {
            "rounds": self.rounds,
            "candidates": self.candidates,
            "repeats": self.repeats,
            "min_gain": self.min_gain,
            "timeout": self.timeout,
            "memory_limit": self.memory_limit,
        }

    def combos(self) -> list[tuple[str, str]]:
        return [(s, model_label(m)) for m in self.models for s in self.strategies]


def model_label(model: str | None) -> str:
    return model or "default"


def group_label(strategy: str, model: str, models: Sequence[str]) -> str:
    return strategy if len(set(models)) <= 1 else f"{strategy} / {model}"


@dataclass
class BenchReport:
    """Everything a run produced (all records in the out dir, resumed ones included)."""

    suite: Suite
    out_dir: Path
    settings: BenchSettings
    records: list[TaskRecord]
    broken: list[BrokenTask]
    aggregates: dict[str, Aggregate] = field(default_factory=dict)
    curves: dict[str, list[Aggregate]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    resumed: int = 0
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)  # per group: where candidates went
    rewrite_outcomes: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # per group, rewrite

    def to_dict(self) -> dict:
        return {
            "format": "afterburner.bench-results/1",
            "suite": {
                "name": self.suite.name,
                "path": self.suite.path,
                "tasks": [t.name for t in self.suite.tasks],
            },
            "settings": asdict(self.settings),
            "broken": [{"where": b.where, "reason": b.reason} for b in self.broken],
            "aggregates": {k: v.to_dict() for k, v in self.aggregates.items()},
            "curves": {k: [a.to_dict() for a in v] for k, v in self.curves.items()},
            "records": [r.to_dict() for r in self.records],
            "files": self.files,
            "resumed": self.resumed,
            "outcomes": self.outcomes,
            "rewrite_outcomes": self.rewrite_outcomes,
        }


class SerializedSandbox:
    """The sandbox with its timing calls under one lock (checks stay concurrent)."""

    def __init__(self, sandbox: Any, lock: threading.RLock) -> None:
        self._sb, self._lock = sandbox, lock

    def measure(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._sb.measure(*args, **kwargs)

    def compare(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._sb.compare(*args, **kwargs)

    def with_limits(
        self, timeout_s: float | None = None, memory_bytes: int | None = None
    ) -> SerializedSandbox:
        """The same, with other limits per run, under the same lock (`afterburner.agent.limits`)."""
        from afterburner.agent.limits import with_limits

        return SerializedSandbox(with_limits(self._sb, timeout_s, memory_bytes), self._lock)

    def __getattr__(self, name: str) -> Any:  # check, check_many, config, ...
        return getattr(self._sb, name)


class SerializedBackend:
    """A local model's backend whose generation takes the measurement lock (it uses every core)."""

    def __init__(self, backend: Any, lock: threading.RLock) -> None:
        self._backend, self._lock = backend, lock
        self.name, self.model = backend.name, backend.model

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._backend.generate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def read_records(path: Path) -> list[TaskRecord]:
    """The records of a results.jsonl; a torn last line (a crash mid-write) is ignored."""
    out = []
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            out.append(TaskRecord.from_dict(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return out


def trajectory_outcomes(path: str | Path | None) -> dict[str, int] | None:
    """Where the model's candidates of one trajectory went (`afterburner.agent.outcomes`); None without a
    file."""
    from afterburner.agent.outcomes import count_outcomes
    from afterburner.trajectory import read_trajectory

    if not path or not Path(path).is_file():
        return None
    return count_outcomes(read_trajectory(path).of_type("step"))


def trajectory_rewrite_outcomes(path: str | Path | None) -> dict[str, dict[str, int]] | None:
    """Where the mechanical rewrites of one trajectory went, per rewrite; None without a file."""
    from afterburner.agent.outcomes import count_rewrite_outcomes
    from afterburner.trajectory import read_trajectory

    if not path or not Path(path).is_file():
        return None
    return count_rewrite_outcomes(read_trajectory(path).of_type("step"))


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_")[:80] or "task"


def _default_optimize(task: Task, **kwargs: Any) -> Any:
    from afterburner.agent.optimizer import optimize

    return optimize(task, **kwargs)


@contextmanager
def _open_sandbox(sandbox: Any, settings: BenchSettings) -> Iterator[Any]:
    """The given sandbox, or a new one: --timeout/--memory-limit, else generous for the originals (the
    optimizer picks each task's candidate limits from its original's runs: `afterburner.agent.limits`)."""
    if sandbox is not None:
        yield sandbox
        return
    from afterburner.agent.limits import ORIGINAL_TIMEOUT_S
    from afterburner.sandbox import Sandbox, SandboxConfig

    limits: dict[str, Any] = {"timeout_s": settings.timeout or ORIGINAL_TIMEOUT_S}
    if settings.memory_limit:
        limits["memory_bytes"] = settings.memory_limit << 20
    with Sandbox(SandboxConfig(**limits)) as sb:
        yield sb


def _prepare_out(out_dir: Path, settings: BenchSettings, suite: Suite, resume: bool) -> list[TaskRecord]:
    results = out_dir / "results.jsonl"
    run_file = out_dir / "run.json"
    if results.exists() and not resume:
        raise ConfigError(
            f"{str(out_dir)!r} already has results: pass --resume to continue it, or another --results-dir"
        )
    done: list[TaskRecord] = []
    if resume and results.exists():
        if run_file.is_file():
            before = json.loads(run_file.read_text(encoding="utf-8")).get("settings", {})
            now = asdict(settings)
            changed = [k for k in _RESUME_KEYS if k in before and before[k] != now[k]]
            if changed:
                raise ConfigError(
                    f"cannot resume {str(out_dir)!r} with different {', '.join(changed)} "
                    f"(was {', '.join(f'{k}={before[k]}' for k in changed)}); use another --results-dir"
                )
        done = [r for r in read_records(results) if r.error is None]
    out_dir.mkdir(parents=True, exist_ok=True)
    run = {
        "suite": {"name": suite.name, "path": suite.path},
        "settings": asdict(settings),
        "started": time.time(),
    }
    tmp = run_file.with_name(f".run.json.{os.getpid()}.{threading.get_ident()}")  # a shard may be reading it
    tmp.write_text(json.dumps(run, indent=2, default=str), encoding="utf-8")
    tmp.replace(run_file)
    return done


def _append_line(path: Path, line: str) -> None:
    """One record, appended with a single write: shards appending to the same file never interleave."""
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def run_bench(
    suite: Suite | str | Path,
    out_dir: str | Path,
    settings: BenchSettings | None = None,
    *,
    resume: bool = False,
    limit: int | None = None,
    shard: tuple[int, int] | None = None,
    sandbox: Any = None,
    optimize: Callable[..., Any] | None = None,
    progress: bool = True,
    plots: bool = True,
    executor: Any = None,
) -> BenchReport:
    """Run (or resume) a benchmark into `out_dir` and write results.json, summary.md and the plots.

    `shard=(i, n)` runs only every n-th task from the i-th, so n processes (each pinned to its own cores,
    e.g. with taskset) can share one `out_dir`; a last run without `shard` (resume=True) writes the
    combined report. `sandbox` and `optimize` default to a fresh `Sandbox` and `afterburner.optimize`;
    tests pass stand-ins. `executor`: None or a local one runs here (`workers` threads); a distributed
    one (`afterburner.executor`, e.g. Ray) runs each (task, strategy, model) as a unit on its nodes
    (`afterburner.bench.distributed`), with the same output files.
    """
    settings = settings or BenchSettings()
    if optimize is None:
        _check_names(settings)
    if not isinstance(suite, Suite):
        suite = load_suite(suite, limit=limit, with_solution=settings.with_solution)
    elif limit is not None:
        suite = suite.limited(limit)
    if shard is not None:
        suite = suite.shard(*shard)
    out = Path(out_dir)
    done = _prepare_out(out, settings, suite, resume)
    optimize = optimize or _default_optimize
    lock = threading.RLock()
    write_lock = threading.Lock()
    results_path = out / "results.jsonl"

    with ExitStack() as stack:
        sb = stack.enter_context(_open_sandbox(sandbox, settings))
        suite = validate_suite(suite, sb)
        serialized = SerializedSandbox(sb, lock)
        finished = {r.key for r in done}
        jobs = [(t, [c for c in settings.combos() if (t.name, *c) not in finished]) for t in suite.tasks]
        jobs = [(t, combos) for t, combos in jobs if combos]
        remote = executor is not None and executor.distributed
        # a model loads only if needed, and only where the units run
        backends = _shared_backends(settings, lock) if jobs and not remote else {}
        total = sum(len(c) for _, c in jobs)
        new: list[TaskRecord] = []
        display = stack.enter_context(_progress(total, progress))

        stop = threading.Event()

        def run_task(task: Task, combos: list[tuple[str, str]]) -> None:
            cache = CodeCache()
            for strategy, model in combos:
                if stop.is_set():
                    return
                label = f"{task.name} [{strategy} / {model}]"
                on_event = display.scoped(label, lines=False) if display else None
                rec = _run_one(
                    task, strategy, model, settings, serialized, backends, optimize, cache, out, on_event
                )
                with write_lock:
                    _append_line(results_path, json.dumps(rec.to_dict(), default=str))
                    new.append(rec)
                    if display:
                        display.line(f"bench {len(new)}/{total}: {label}: {_record_line(rec)}")

        try:
            if remote:
                job_config = getattr(sb, "config", None)
                _run_remote(executor, settings, job_config, optimize, jobs, out, display, total, new)
            elif settings.workers == 1:
                for task, combos in jobs:
                    run_task(task, combos)
            else:
                pool = ThreadPoolExecutor(max_workers=settings.workers)
                try:
                    for fut in [pool.submit(run_task, t, c) for t, c in jobs]:
                        fut.result()
                finally:
                    stop.set()  # on Ctrl-C: no new (task, strategy, model) starts; running ones finish
                    pool.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:
            finish_report(suite, out, settings, done + new, resumed=len(done), plots=False)
            raise

    return finish_report(suite, out, settings, done + new, resumed=len(done), plots=plots)


def _run_remote(
    executor: Any,
    settings: BenchSettings,
    sandbox_config: Any,
    optimize: Callable[..., Any],
    jobs: list[tuple[Task, list[tuple[str, str]]]],
    out: Path,
    display: Any,
    total: int,
    new: list[TaskRecord],
) -> None:
    """Every (task, strategy, model) as a unit of a distributed executor; the records are written here
    and added to `new`, in order, as they come back (a line per record: the units' own events stay on
    their nodes)."""
    from afterburner.bench.distributed import BenchJob, write_outputs

    job = BenchJob(settings, sandbox_config, optimize)
    units = [(t, strategy, model) for t, combos in jobs for strategy, model in combos]
    for rec, files in executor.map(job, units):
        rec = write_outputs(out, rec, files)
        _append_line(out / "results.jsonl", json.dumps(rec.to_dict(), default=str))
        new.append(rec)
        if display:
            label = f"{rec.task} [{rec.strategy} / {rec.model}]"
            display.line(f"bench {len(new)}/{total}: {label}: {_record_line(rec)}")


def _check_names(settings: BenchSettings) -> None:
    """Fail before running anything on a strategy or replay model that does not exist."""
    from afterburner.agent.strategies import get_strategy

    for s in settings.strategies:
        get_strategy(s)
    for m in settings.models:
        if m and str(m).startswith("replay:"):
            if settings.backend != "scripted":
                raise ConfigError(f"model {m!r} replays known solutions: use it with --backend scripted")
            if m.removeprefix("replay:") not in REPLAY_KINDS:
                raise ConfigError(
                    f"unknown replay model {m!r}; choose one of replay:{', replay:'.join(REPLAY_KINDS)}"
                )


def _shared_backends(settings: BenchSettings, lock: threading.RLock) -> dict[str, Any]:
    """One backend per non-replay model, built once (a local model loads once for the whole run)."""
    backends: dict[str, Any] = {}
    if settings.backend == "scripted" and all(is_replay("scripted", m) for m in settings.models):
        return backends
    from afterburner.llm import get_backend

    for m in settings.models:
        if is_replay(settings.backend, m):
            continue
        backend = get_backend(settings.backend, model=m) if m else get_backend(settings.backend)
        if settings.backend in LOCAL_BACKENDS and settings.workers > 1:
            backend = SerializedBackend(backend, lock)
        backends[model_label(m)] = backend
    return backends


def _run_one(
    task: Task,
    strategy: str,
    model: str,
    settings: BenchSettings,
    sandbox: Any,
    backends: dict[str, Any],
    optimize: Callable[..., Any],
    cache: CodeCache,
    out: Path,
    on_event: Callable[[str, dict], None] | None = None,
) -> TaskRecord:
    traj = out / "trajectories" / f"{_safe(task.name)}__{_safe(strategy)}__{_safe(model)}.jsonl"
    traj.parent.mkdir(parents=True, exist_ok=True)
    if traj.exists():  # an earlier attempt was interrupted or failed: keep its steps, apart from this run's
        traj.replace(traj.with_name(traj.stem + ".interrupted.jsonl"))
    t0 = time.perf_counter()
    try:
        if is_replay(settings.backend, model):
            backend = replay_backend(task, model, strategy)
        else:
            backend = backends[model]
        result = optimize(
            task,
            backend=backend,
            strategy=strategy,
            **settings.optimizer_options(),
            sandbox=sandbox,
            trajectory=str(traj),
            out_dir=str(out / "runs"),
            checkpoint=False,
            **({"on_event": on_event} if on_event else {}),
        )
    except Exception as e:  # one task's failure (ours, the backend's) must not stop the suite
        where = ""
        if not isinstance(e, AfterburnerError) and e.__traceback__:
            frame = traceback.extract_tb(e.__traceback__)[-1]
            where = f" ({Path(frame.filename).name}:{frame.lineno})"
        return TaskRecord(
            task.name, strategy, model, Point(False, "error"), wall_time_s=time.perf_counter() - t0,
            error=f"{type(e).__name__}: {e}{where}".splitlines()[0],
        )  # fmt: skip
    wall = time.perf_counter() - t0
    traj_path = getattr(result, "trajectory_path", None) or str(traj)
    if getattr(result, "status", "") == "interrupted":  # the optimizer caught a Ctrl-C: stop the bench
        raise KeyboardInterrupt
    start = task.code or getattr(result, "original_code", "") or ""
    best = getattr(result, "best_code", "") or ""
    eval_args = {"repeats": settings.repeats, "min_gain": settings.min_gain, "cache": cache}
    final = evaluate_code(sandbox, task, start, best, **eval_args)
    rounds: tuple[Point, ...] = ()
    if settings.curves:
        rounds = tuple(
            evaluate_code(sandbox, task, start, c, **eval_args) for c in result.rounds_best_code or ()
        )
    return TaskRecord(
        task=task.name,
        strategy=strategy,
        model=model,
        final=final,
        rounds=rounds,
        n_rounds=int(getattr(result, "rounds", 0) or 0),
        stop_reason=str(getattr(result, "stop_reason", "") or ""),
        optimizer_status=str(getattr(result, "status", "") or ""),
        optimizer_speedup=getattr(result, "speedup", None),
        tokens_used=int(getattr(result, "tokens_used", 0) or 0),
        llm_calls=int(getattr(result, "llm_calls", 0) or 0),
        wall_time_s=wall,
        trajectory_path=traj_path,
        final_code=best,
        outcomes=trajectory_outcomes(traj_path),
        rewrite_outcomes=trajectory_rewrite_outcomes(traj_path),
    )


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Any]:
    """The bench's display on stderr (`afterburner.progress`): a line per finished record; the running
    optimizer's events (tokens, verdicts, measurements) on the status line. None when disabled."""
    if not enabled or total == 0:
        yield None
        return
    from afterburner.progress import ProgressDisplay

    with ProgressDisplay() as display:
        display.line(f"bench: {total} runs (task x strategy x model) to do")
        yield display


def _record_line(rec: TaskRecord) -> str:
    """A finished record in a few words: the re-measured result and how long it took."""
    if rec.error:
        return f"error: {rec.error}"
    f = rec.final
    what = f.status or "done"
    speedup = getattr(f, "speedup", None)
    if isinstance(speedup, int | float) and speedup == speedup:
        what += f", {speedup:.2f}x the starting code"
    rounds = f"{rec.n_rounds} round{'s' * (rec.n_rounds != 1)}"
    return f"{what} ({rounds}, {rec.wall_time_s:.0f} s)"


def _sum_outcomes(records: list[TaskRecord]) -> dict[str, int]:
    """The candidates of a group of records, by outcome (records written before outcomes were kept are
    counted from their trajectory file, when it is still there)."""
    from afterburner.agent.outcomes import OUTCOMES

    total = dict.fromkeys(OUTCOMES, 0)
    for r in records:
        counts = r.outcomes if r.outcomes is not None else trajectory_outcomes(r.trajectory_path)
        for k, v in (counts or {}).items():
            total[k] = total.get(k, 0) + int(v)
    return total


def _sum_rewrite_outcomes(records: list[TaskRecord]) -> dict[str, dict[str, int]]:
    """The mechanical rewrites' candidates of a group of records, per rewrite, by outcome."""
    from afterburner.agent.outcomes import OUTCOMES

    total: dict[str, dict[str, int]] = {}
    for r in records:
        per = r.rewrite_outcomes
        if per is None:
            per = trajectory_rewrite_outcomes(r.trajectory_path)
        for origin, counts in sorted((per or {}).items()):
            into = total.setdefault(origin, dict.fromkeys(OUTCOMES, 0))
            for k, v in counts.items():
                into[k] = into.get(k, 0) + int(v)
    return total


def report_bench(suite: Suite | str | Path, out_dir: str | Path, settings: BenchSettings) -> BenchReport:
    """The report (results.json, summary.md, plots) of the records already in `out_dir`, running nothing:
    for a run stopped part way, or shards that ended without a last combined run."""
    if not isinstance(suite, Suite):
        suite = load_suite(suite, with_solution=settings.with_solution)
    out = Path(out_dir)
    if not (out / "results.jsonl").exists():
        raise ConfigError(f"{str(out)!r} has no results.jsonl: there is nothing to report")
    done = _prepare_out(out, settings, suite, resume=True)
    return finish_report(suite, out, settings, done, resumed=len(done))


def finish_report(
    suite: Suite,
    out: Path,
    settings: BenchSettings,
    records: list[TaskRecord],
    resumed: int = 0,
    plots: bool = True,
) -> BenchReport:
    """Aggregate the records of this suite and settings; write results.json, summary.md and the plots."""
    from afterburner.bench.report import summary_markdown, write_plots

    names = [t.name for t in suite.tasks]
    order = {n: i for i, n in enumerate(names)}
    combos = settings.combos()
    latest = {r.key: r for r in records if r.task in order and (r.strategy, r.model) in combos}
    kept = sorted(latest.values(), key=lambda r: (order[r.task], combos.index((r.strategy, r.model))))
    report = BenchReport(suite, out, settings, kept, list(suite.broken), resumed=resumed)
    models = [m for _, m in combos]
    for strategy, model in combos:
        label = group_label(strategy, model, models)
        group = [r for r in kept if (r.strategy, r.model) == (strategy, model)]
        finals = [r.final for r in group]
        report.aggregates[label] = aggregate(finals, settings.threshold, settings.tolerance)
        if settings.curves:
            report.curves[label] = round_curve(
                [r.rounds for r in group], finals, settings.threshold, settings.tolerance
            )
        report.outcomes[label] = _sum_outcomes(group)
        rewrites = _sum_rewrite_outcomes(group)
        if rewrites:
            report.rewrite_outcomes[label] = rewrites
    if plots:
        report.files.update(write_plots(report))
    report.files["summary"] = str(out / "summary.md")
    report.files["results"] = str(out / "results.json")
    report.files["records"] = str(out / "results.jsonl")
    (out / "summary.md").write_text(summary_markdown(report), encoding="utf-8")
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(report.to_dict(), indent=1, default=str), encoding="utf-8")
    tmp.replace(out / "results.json")
    return report
