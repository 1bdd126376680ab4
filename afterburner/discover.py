"""Zero-config tasks: the tests and the workload of a function, taken from the project it lives in.

`record_pytest` runs the project's pytest suite once, in a subprocess, with the call recorder
(`afterburner.recorder`) on the target; `build_task` turns the recorded calls into a `Task` whose cases
are the calls (inputs pickled in the user's process, expected outcomes as data: return value or
exception, and the arguments after the call) and whose workload is the costliest of them; `verify_task`
replays the original twice in the sandbox, so a target that is nondeterministic on its recorded inputs
is caught before any candidate is judged by them. The same pieces serve recorded commands
(`afterburner.tracing`).

Nothing here imports the user's code: the parent holds the recorded arguments as opaque pickles
(`RecordedArgs`), unpickled only in the sandboxed child, after the candidate's module is imported as
the project's own (`sandbox.projectmode`).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import math
import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from afterburner.errors import TaskError
from afterburner.recorder import bootstrap
from afterburner.sandbox import codec
from afterburner.task import Case, Task, parse_entry_point

__all__ = [
    "RecordedArgs",
    "RecordedCall",
    "Recording",
    "build_task",
    "calibrate",
    "find_root",
    "record_pytest",
    "target_spec",
    "verify_task",
]

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
TIMING_TARGET_S = 0.1  # CPU time of the timing calls in one timed run, at least (see `calibrate`)
MAX_REPEATS = 1000  # before calibration, from the recorded times
MAX_WORKLOAD = 50_000  # calls in one timed run
CALIBRATION = 11
MAX_CASES = 2000
EXTRA_REPLAYS = 3  # replays of the original when its first two agree but differ from the recording


def find_root(path: str | Path) -> Path:
    """The project a file belongs to: the nearest directory above it with pyproject.toml, setup.cfg,
    setup.py or .git (the file's own directory when there is none)."""
    p = Path(path).resolve()
    for d in [p.parent, *p.parent.parents]:
        if any((d / m).exists() for m in ROOT_MARKERS):
            return d
    return p.parent


class RecordedArgs:
    """One recorded call's ``(args, kwargs)``, pickled in the user's process. It pickles to a call of
    ``pickle.loads`` on those bytes, so the arguments come to life only in the sandboxed child."""

    __slots__ = ("blob", "text")

    def __init__(self, blob: bytes, text: str) -> None:
        self.blob, self.text = blob, text

    def __reduce__(self) -> tuple:
        return (pickle.loads, (self.blob,))

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RecordedCall:
    test: str  # the test (node id) it was made in; "" for a recorded command
    blob: bytes
    text: str  # how it was called, shortened
    expected: Any  # the outcome as data: {"returned" | "raised": ..., "then args": ..., "then kwargs": ...}
    time_s: float  # as recorded (under the tracer: a ranking, not a measurement)
    lines: frozenset[int]

    @property
    def key(self) -> str:
        return hashlib.sha256(self.blob).hexdigest()


@dataclass
class Recording:
    """What one recorded run saw of one target."""

    file: str
    qualname: str
    module: str
    calls: list[RecordedCall]
    skipped: list[dict]  # {"reason", "count", "tests", "call"}
    seen: int  # top-level calls seen
    not_kept: int  # seen beyond the caps (counted, not recorded)
    lines: set[int]  # lines of the target any call ran
    tests: list[str]  # the tests that called it
    sys_path: list[str]
    cwd: str
    outcomes: dict[str, dict] = field(default_factory=dict)  # pytest node id -> outcome
    exit: int = 0
    collect_errors: list = field(default_factory=list)
    rootdir: str = ""


def from_recorder(target: dict, run: dict) -> Recording:
    """A `Recording` from one target of the recorder's JSON."""
    calls = [
        RecordedCall(
            c["test"],
            base64.b64decode(c["blob"]),
            c["repr"],
            codec.decode(c["expected"]),
            float(c["time"]),
            frozenset(c["lines"]),
        )
        for c in target["calls"]
    ]
    return Recording(
        file=target["file"],
        qualname=target["qualname"],
        module=target["module"],
        calls=calls,
        skipped=target["skipped"],
        seen=target["seen"],
        not_kept=target["not_kept"],
        lines=set(target["lines"]),
        tests=list(target["tests"]),
        sys_path=list(run.get("sys_path", [])),
        cwd=run.get("cwd", ""),
        outcomes=run.get("tests", {}),
        exit=int(run.get("exit", 0)),
        collect_errors=run.get("collect_errors", []),
        rootdir=run.get("rootdir", ""),
    )


# ------------------------------------------------------------------------------------------- target
def _function_node(tree: ast.Module, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    parts = qualname.split(".")
    body: list = tree.body
    node = None
    for i, name in enumerate(parts):
        node = next(
            (
                n
                for n in body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.name == name
            ),
            None,
        )
        if node is None:
            return None
        if i < len(parts) - 1:
            if not isinstance(node, ast.ClassDef):
                return None
            body = node.body
    return node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None


def target_spec(code: str, file: str | Path, entry: str) -> dict:
    """What the recorder needs to know of ``file::entry`` (file, qualname, drop_first); a TaskError for
    a target whose calls cannot be recorded and replayed (a generator, a property, ``Class().method``)."""
    name, instantiate, method = parse_entry_point(entry)
    if instantiate:
        raise TaskError(
            f"{entry}: give the method as {name}.{method} (its recorded calls carry their own instance)"
        )
    qualname = f"{name}.{method}" if method else name
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        raise TaskError(f"{file}, line {e.lineno}: {e.msg}") from None
    node = _function_node(tree, qualname)
    if node is None:
        raise TaskError(f"{file} defines no function {qualname!r} (a top-level function or Class.method)")
    if isinstance(node, ast.AsyncFunctionDef) or any(
        isinstance(n, ast.Yield | ast.YieldFrom) for n in _own_nodes(node)
    ):
        raise TaskError(
            f"{qualname} is a generator or async function: afterburner compares the return values of "
            "recorded calls; give --tests FILE (a check(candidate)) for it"
        )
    decorators = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in node.decorator_list}
    if "property" in decorators or any(
        isinstance(d, ast.Attribute) and d.attr in ("setter", "getter", "deleter")
        for d in node.decorator_list
    ):
        raise TaskError(f"{qualname} is a property: give a function or method to optimize")
    return {
        "file": str(Path(file).resolve()),
        "qualname": qualname,
        "drop_first": "classmethod" in decorators,
    }


def _own_nodes(fn: ast.AST) -> list[ast.AST]:
    """The nodes of a function's body, not those of functions or classes nested in it."""
    out, todo = [], list(ast.iter_child_nodes(fn))
    while todo:
        n = todo.pop()
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        out.append(n)
        todo.extend(ast.iter_child_nodes(n))
    return out


def statement_lines(code: str, qualname: str) -> set[int]:
    """The lines of the target's statements (its docstring aside): what line coverage is a share of."""
    node = _function_node(ast.parse(code), qualname)
    if node is None:
        return set()
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    lines: set[int] = set()
    for stmt in body:
        for n in ast.walk(stmt):
            if isinstance(n, ast.stmt):
                lines.add(n.lineno)
    return lines


def coverage(hit: set[int] | frozenset[int], lines: set[int]) -> float:
    return len(lines & set(hit)) / len(lines) if lines else float("nan")


# ----------------------------------------------------------------------------------------- recording
def run_recorder(
    mode: str, spec: dict, cwd: str | Path, timeout: float | None, log: Path
) -> tuple[int, dict]:
    """Run the recorder's `mode` in a subprocess of this interpreter; (exit code, its JSON)."""
    with tempfile.TemporaryDirectory(prefix="afterburner-record-") as tmp:
        spec = {**spec, "out": os.path.join(tmp, "out.json")}
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w", encoding="utf-8") as f:
            json.dump(spec, f)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # leave no __pycache__ in the project
        with open(log, "wb") as out:
            try:
                proc = subprocess.run(
                    [sys.executable, "-c", bootstrap(), mode, spec_path],
                    cwd=str(cwd),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                raise TaskError(
                    f"the recorded run did not finish in {timeout:g} s (its output: {log})"
                ) from None
        try:
            with open(spec["out"], encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = None
        return proc.returncode, data


def _tail(log: Path, n: int = 3) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])[:400]


def record_pytest(
    target: dict, root: Path, pytest_args: list[str] | None = None, timeout: float | None = None
) -> Recording:
    """Run the project's pytest suite once with the recorder on `target` (`target_spec`)."""
    args = [*(pytest_args or []), "-p", "no:cacheprovider", "-q"]
    log = Path(tempfile.mkstemp(prefix="afterburner-pytest-", suffix=".log")[1])
    code, data = run_recorder("pytest", {"targets": [target], "args": args}, root, timeout, log)
    if data is None or code in (2, 3, 4):
        what = {2: "was interrupted", 3: "hit an internal error", 4: "was given arguments it does not take"}
        why = what.get(code, f"ended with exit code {code} before reporting")
        raise TaskError(
            f"pytest {why} in {root} ({_tail(log)}); fix the test setup or pass --pytest-args (full output: {log})"
        )
    log.unlink(missing_ok=True)
    return from_recorder(data["targets"][0], data)


def failing_tests(rec: Recording) -> list[tuple[str, str]]:
    """The tests that call the target and fail before any change: (node id, error)."""
    return [
        (t, rec.outcomes.get(t, {}).get("error", ""))
        for t in rec.tests
        if rec.outcomes.get(t, {}).get("outcome") == "failed"
    ]


# ------------------------------------------------------------------------------------------ the task
@dataclass
class Found:
    """What the recorded calls gave: the task's oracle and workload, and what was left out and why."""

    calls: list[RecordedCall]  # distinct calls, the oracle
    timing: list[RecordedCall]  # the costliest ones, the workload
    repeats: int  # each timing call runs this many times per timed run
    coverage_timing: float
    coverage_all: float
    inconsistent: int = 0  # inputs recorded with different outcomes (left out)
    dropped: list[str] = field(default_factory=list)  # why calls were left out after the sandbox replay
    notes: list[str] = field(default_factory=list)


def distinct_calls(calls: list[RecordedCall]) -> tuple[list[RecordedCall], int]:
    """One call per input; inputs recorded with different outcomes are left out (their number)."""
    by_key: dict[str, list[RecordedCall]] = {}
    for c in calls:
        by_key.setdefault(c.key, []).append(c)
    out, inconsistent = [], 0
    for group in by_key.values():
        first = group[0]
        if any(not codec.equal(g.expected, first.expected) for g in group[1:]):
            inconsistent += 1
            continue
        out.append(first)
    return out[:MAX_CASES], inconsistent


def project_info(rec: Recording, root: Path, file: str | Path) -> dict:
    """How the sandbox imports the target: module name, file, the project's import path, cwd."""
    root_s = str(root.resolve())

    def inside(p: str) -> bool:
        return (p == root_s or p.startswith(root_s + os.sep)) and "site-packages" not in p

    paths = [p for p in dict.fromkeys(rec.sys_path) if inside(p) and os.path.isdir(p)]
    if not paths:
        paths = [root_s]
    cwd = rec.rootdir or rec.cwd
    return {
        "module": rec.module,
        "file": str(Path(file).resolve()),
        "paths": paths,
        "cwd": cwd if cwd and inside(cwd) else root_s,
        "root": root_s,
    }


def build_task(
    code: str, file: str | Path, entry: str, rec: Recording, root: Path, timing_calls: int = 5
) -> tuple[Task, Found]:
    """The task of `file::entry` from its recorded calls: every distinct call a case (expected: the
    recorded outcome), the `timing_calls` costliest ones, repeated, the workload."""
    calls, inconsistent = distinct_calls(rec.calls)
    if not calls:
        raise TaskError(
            f"none of the {rec.seen} recorded calls of {rec.qualname} can be used ({skip_summary(rec)})"
        )
    timing = sorted(calls, key=lambda c: -c.time_s)[: max(1, timing_calls)]
    per_pass = sum(c.time_s for c in timing)
    repeats = max(1, min(MAX_REPEATS, math.ceil(TIMING_TARGET_S / per_pass))) if per_pass > 0 else 1
    lines = statement_lines(code, rec.qualname)
    found = Found(
        calls,
        timing,
        repeats,
        coverage(set().union(*(c.lines for c in timing)), lines),
        coverage(rec.lines, lines),
        inconsistent,
    )
    return make_task(code, file, entry, calls, timing, repeats, project_info(rec, root, file)), found


def make_task(
    code: str,
    file: str | Path,
    entry: str,
    calls: list[RecordedCall],
    timing: list[RecordedCall],
    repeats: int,
    project: dict,
) -> Task:
    def case(c: RecordedCall, expected: bool) -> Case:
        # the second argument: compare the arguments after the call (the cases; not the workload)
        return Case((RecordedArgs(c.blob, c.text), expected), {}, c.expected if expected else None, expected)

    digest = hashlib.sha256(b"".join(hashlib.sha256(c.blob).digest() for c in calls)).hexdigest()[:16]
    name, _, method = parse_entry_point(entry)
    return Task(
        name=f"{Path(file).stem}.{method or name}",
        entry_point=entry,
        code=code,
        cases=tuple(case(c, True) for c in calls),
        workload_inputs=tuple(case(c, False) for c in timing) * repeats,
        source_path=str(Path(file).resolve()),
        metadata={"project": project, "recorded_calls": digest, "timing_repeats": repeats},
    )


def skip_summary(rec: Recording) -> str:
    if not rec.skipped:
        return "no call was kept"
    s = max(rec.skipped, key=lambda s: s["count"])
    where = f" in {s['tests'][0]}" if s.get("tests") else ""
    return f"{s['count']} skipped{where}: {s['reason']}"


def verify_task(sandbox: Any, task: Task, found: Found) -> Task:
    """Replay the original twice in the sandbox on every recorded call. A call whose two replays differ:
    the target is nondeterministic on its recorded inputs (a TaskError: no oracle can judge it). A call
    whose replays agree but differ from what its test saw is replayed a few more times (two equal draws
    of a random choice happen); still agreeing, it depends on state the test set up: left out, and
    said so in `found.dropped`."""
    probe = Task(
        name=task.name,
        entry_point=task.entry_point,
        code=task.code,
        cases=tuple(Case(c.args, c.kwargs) for c in task.cases),
        source_path=task.source_path,
        metadata=task.metadata,
    )
    runs: list[list] = []

    def replay() -> None:
        status, outs, failure, _ = sandbox.run_calls(probe)
        if status.value != "passed":
            detail = failure.short() if failure else status.value
            raise TaskError(
                f"the original {task.entry_point} does not run on its recorded calls in the sandbox "
                f"({status.value}: {detail})"
            )
        runs.append(outs)
        for i, (a, b) in enumerate(zip(runs[0], outs, strict=True)):
            if not codec.equal(a, b):
                raise TaskError(
                    f"{task.entry_point} is nondeterministic on its recorded inputs: {found.calls[i].text} "
                    f"gave {codec.short_repr(_shown(a), 120)} and then {codec.short_repr(_shown(b), 120)}; "
                    "afterburner cannot tell a right answer from a wrong one for it"
                )

    replay()
    replay()
    keep = [i for i, out in enumerate(runs[0]) if codec.equal(out, found.calls[i].expected)]
    if len(keep) < len(found.calls):  # state the tests set up, or chance: a few more replays tell
        for _ in range(EXTRA_REPLAYS):
            replay()
    if len(keep) < len(found.calls):
        bad = [found.calls[i] for i in range(len(found.calls)) if i not in set(keep)]
        found.dropped.append(
            f"{len(bad)} recorded call(s) give another result outside their test (they depend on state the "
            f"test set up), left out of the oracle; their tests still check them: e.g. {bad[0].text} in "
            f"{bad[0].test or 'the command'}"
        )
    if not keep:
        raise TaskError(
            f"no recorded call of {task.entry_point} gives the same result outside its test "
            f"(e.g. {found.calls[0].text}): it depends on state the tests set up; give --tests FILE"
        )
    if len(keep) == len(found.calls):
        return task
    keys = {found.calls[i].key for i in keep}
    found.calls = [found.calls[i] for i in keep]
    timing = [c for c in found.timing if c.key in keys] or found.calls[:1]
    found.timing = timing
    return make_task(
        task.code,
        task.source_path,
        task.entry_point,
        found.calls,
        timing,
        found.repeats,
        task.metadata["project"],
    )


def calibrate(sandbox: Any, task: Task, found: Found) -> Task:
    """Repeat the timing calls so that one timed run spends most of its CPU time in them: the
    recorded times (under the tracer) only rank the calls. Two runs of the original in the sandbox,
    the timing calls once and `CALIBRATION` times, give the cost of one pass and the run's fixed cost
    (starting the child, importing the project); the repeats make a run's calls take at least
    `TIMING_TARGET_S` and three times the fixed cost (up to `MAX_WORKLOAD` calls)."""

    def cpu(times: int) -> float:
        cases = tuple(Case((RecordedArgs(c.blob, c.text), False), {}) for c in found.timing) * times
        probe = Task(
            name=task.name,
            entry_point=task.entry_point,
            code=task.code,
            cases=cases,
            source_path=task.source_path,
            metadata=task.metadata,
        )
        res = sandbox.run_calls(probe)
        if res.status.value != "passed":
            raise TaskError(f"the original {task.entry_point} fails on its timing calls ({res.status.value})")
        return res.cpu_s

    once, many = cpu(1), cpu(CALIBRATION)
    per_pass = max((many - once) / (CALIBRATION - 1), 1e-7)
    fixed = max(once - per_pass, 0.0)
    want = max(TIMING_TARGET_S, 3 * fixed)
    cap = max(1, MAX_WORKLOAD // max(1, len(found.timing)))
    found.repeats = max(1, min(cap, math.ceil(want / per_pass)))
    found.notes.append(
        f"one pass over the timing calls takes ~{per_pass * 1e3:.3g} ms of CPU in the sandbox, a run's fixed "
        f"cost ~{fixed * 1e3:.3g} ms"
    )
    return make_task(
        task.code,
        task.source_path,
        task.entry_point,
        found.calls,
        found.timing,
        found.repeats,
        task.metadata["project"],
    )


def _shown(outcome: Any) -> Any:
    if isinstance(outcome, dict) and "returned" in outcome:
        return outcome["returned"]
    if isinstance(outcome, dict) and "raised" in outcome:
        return outcome["raised"]
    return outcome
