"""``afterburner trace -- python script.py ARGS`` and ``afterburner optimize --trace FILE``.

`trace_command` runs the user's command twice with this interpreter (`afterburner.recorder`): once under
cProfile alone, so the ranking is not bent by a tracer, then with the call recorder on the top functions
of the user's own code (the files of the project, not its tests, not installed packages). The trace file
(JSON, ``afterburner.trace/1``) holds the command, its output's digest, the ranking by own time, and the
recorded calls of the top functions.

`optimize_trace` optimizes the top K of them one after another, each verified on its recorded calls in
the sandbox (and building on the ones before it, when they share a module), then runs the command again
with the new code, interleaved with the original (`end_to_end`): the output must be the same, and the
CPU time of the whole command (the process and its children, from the kernel) is compared as everywhere
else, median ratio with a bootstrap interval. That last run executes the new code on this machine,
outside the sandbox, as the user's own command would: only code that passed its recorded calls in the
sandbox gets there.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from afterburner.discover import (
    build_task,
    calibrate,
    find_root,
    from_recorder,
    target_spec,
    verify_task,
)
from afterburner.errors import ConfigError, TaskError
from afterburner.measurement import bootstrap_ratio_ci
from afterburner.recorder import bootstrap

__all__ = [
    "FORMAT",
    "EndToEnd",
    "TraceOutcome",
    "end_to_end",
    "load_trace",
    "optimize_trace",
    "trace_command",
]

FORMAT = "afterburner.trace/1"
_AFTERBURNER = str(Path(__file__).resolve().parent)
_TEST_DIRS = {"tests", "test", "testing"}


def split_command(argv: list[str]) -> list[str]:
    """``python script.py ARGS`` / ``-m pkg ARGS`` / ``script.py ARGS`` -> the part after python."""
    argv = list(argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if argv and Path(argv[0]).name.startswith("python") and not argv[0].endswith(".py"):
        argv = argv[1:]
    if not argv:
        raise ConfigError("nothing to trace: give a command, e.g. afterburner trace -- python script.py ARGS")
    if argv[0] == "-m":
        if len(argv) < 2:
            raise ConfigError("-m needs a module name, e.g. afterburner trace -- python -m pytest tests/")
        return argv
    if argv[0].startswith("-"):
        raise ConfigError(f"afterburner trace runs a script or -m module, not python option {argv[0]!r}")
    if not Path(argv[0]).is_file():
        raise ConfigError(f"script {argv[0]!r} does not exist")
    return argv


def own_file(file: str, root: Path) -> bool:
    """A file of the user's own code: below the project root, not a test, not an installed package."""
    p = Path(file)
    try:
        rel = p.relative_to(root)
    except ValueError:
        return False
    prefixes = {os.path.realpath(x) for x in (sys.prefix, sys.base_prefix)}
    if any(part in ("site-packages", "dist-packages", "__pycache__") for part in rel.parts):
        return False
    if any(str(p).startswith(x + os.sep) for x in prefixes) or str(p).startswith(_AFTERBURNER + os.sep):
        return False
    name = p.name
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return False
    return not any(part in _TEST_DIRS for part in rel.parts[:-1]) and p.suffix == ".py"


def functions_of(code: str) -> list[tuple[int, int, int, str]]:
    """(first line, def line, last line, qualname) of each top-level function and class method; the
    first line counts the decorators (the line cProfile gives for the function's code)."""
    out: list[tuple[int, int, int, str]] = []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return out

    def add(n: ast.AST, name: str) -> None:
        first = min([n.lineno, *(d.lineno for d in n.decorator_list)])
        out.append((first, n.lineno, n.end_lineno or n.lineno, name))

    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add(node, node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    add(item, f"{node.name}.{item.name}")
    return out


def owner(code: str, line: int) -> tuple[str | None, bool]:
    """The function a profiled code object at `line` belongs to, and whether it is that function's own
    code (False: a comprehension, lambda or inner function in it, whose time is counted with it)."""
    for first, _, last, name in functions_of(code):
        if line == first:
            return name, True
        if first < line <= last:
            return name, False
    return None, False


def runs_at_import(code: str) -> bool:
    """Whether a script does its work when imported (statements beyond definitions, imports,
    assignments and an ``if __name__ == "__main__":`` block)."""
    allowed = (
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.Assign,
        ast.AnnAssign,
        ast.AugAssign,
    )
    for node in ast.parse(code).body:
        if isinstance(node, allowed):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if (
            isinstance(node, ast.If)
            and "__main__" in ast.unparse(node.test)
            and "__name__" in ast.unparse(node.test)
        ):
            continue
        return True
    return False


# ---------------------------------------------------------------------------------------------- trace
def _run_captured(
    mode: str, spec: dict, cwd: Path, timeout: float | None
) -> tuple[int, bytes, float, dict | None]:
    """A recorder run of the command; (exit code, its stdout, CPU seconds of it and its children, JSON)."""
    with tempfile.TemporaryDirectory(prefix="afterburner-trace-") as tmp:
        spec = {**spec, "out": os.path.join(tmp, "out.json")}
        spec_path = os.path.join(tmp, "spec.json")
        Path(spec_path).write_text(json.dumps(spec))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            proc = subprocess.run(
                [sys.executable, "-c", bootstrap(), mode, spec_path],
                cwd=str(cwd),
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},  # no __pycache__ left in the project
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=None if mode != "run" else subprocess.DEVNULL,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise TaskError(f"the command did not finish in {timeout:g} s") from None
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        data = None
        if os.path.exists(spec["out"]):
            data = json.loads(Path(spec["out"]).read_text())
        return proc.returncode, proc.stdout, cpu, data


def trace_command(
    argv: list[str],
    out: str | Path,
    record_top: int = 10,
    say: Callable[[str], None] = print,
    timeout: float | None = None,
) -> dict:
    """Profile the command, record the calls of its top functions, write the trace file; the trace."""
    argv = split_command(argv)
    cwd = Path.cwd()
    root = find_root(argv[0]) if argv[0] != "-m" else find_root(cwd / "x")
    say(f"running `python {' '.join(argv)}` under cProfile (project {root})")
    code, stdout, cpu, prof = _run_captured("profile", {"argv": argv}, cwd, timeout)
    if prof is None:
        raise TaskError(f"the command ended (exit code {code}) before the profile was written")
    total_own = sum(r["own"] for r in prof["functions"]) or 1.0
    sources: dict[str, str] = {}
    by_fn: dict[tuple[str, str], dict] = {}
    inner: list[tuple[tuple[str, str], dict]] = []
    for r in prof["functions"]:
        if not own_file(r["file"], root) or r["name"] == "<module>":
            continue
        src = sources.setdefault(r["file"], Path(r["file"]).read_text(encoding="utf-8"))
        q, itself = owner(src, r["line"])
        if q is None:  # a lambda or comprehension at module level
            continue
        if not itself:
            inner.append(((r["file"], q), r))
            continue
        by_fn[(r["file"], q)] = {
            "file": r["file"],
            "line": r["line"],
            "name": r["name"],
            "qualname": q,
            "own_s": r["own"],
            "cum_s": r["cum"],
            "calls": r["calls"],
            "reason": "",
        }
    for key, r in inner:  # a comprehension's or inner function's own time is its function's
        if key in by_fn:
            by_fn[key]["own_s"] += r["own"]
    functions = sorted(by_fn.values(), key=lambda f: -f["own_s"])
    for f in functions:
        f["share"] = f["own_s"] / total_own
        try:
            f["spec"] = target_spec(sources[f["file"]], f["file"], f["qualname"])
        except TaskError as e:
            f["reason"] = str(e)
    chosen = [f for f in functions if "spec" in f][:record_top]
    output_stable = True
    rec: dict = {}
    if chosen:
        say(f"running it again, recording the calls of its top {len(chosen)} function(s)")
        code2, stdout2, _, rec = _run_captured(
            "record", {"argv": argv, "targets": [f["spec"] for f in chosen]}, cwd, timeout
        )
        rec = rec or {}
        output_stable = stdout2 == stdout and code2 == code
        by_key = {(t["file"], t["qualname"]): t for t in rec.get("targets", [])}
        for f in chosen:
            f["recording"] = by_key.get((f["spec"]["file"], f["spec"]["qualname"]))
    trace = {
        "format": FORMAT,
        "command": argv,
        "cwd": str(cwd),
        "root": str(root),
        "python": sys.executable,
        "exit": code,
        "stdout_sha256": hashlib.sha256(stdout).hexdigest(),
        "stdout_bytes": len(stdout),
        "output_stable": output_stable,
        "profiled_cpu_s": cpu,
        "sys_path": rec.get("sys_path", prof.get("sys_path", [])),
        "record_cwd": rec.get("cwd", str(cwd)),
        "functions": functions,
        "created": time.time(),
    }
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(trace))
    os.replace(tmp, out)
    return trace


def load_trace(path: str | Path) -> dict:
    p = Path(path)
    try:
        trace = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"trace file {str(p)!r} cannot be read: {e.strerror or e}") from None
    except ValueError:
        raise ConfigError(
            f"trace file {str(p)!r} is not JSON (write one with afterburner trace -- CMD)"
        ) from None
    if not isinstance(trace, dict) or trace.get("format") != FORMAT:
        raise ConfigError(
            f"trace file {str(p)!r} is not an {FORMAT} file (write one with afterburner trace -- CMD)"
        )
    return trace


def ranking_lines(trace: dict, n: int = 10) -> list[str]:
    """The trace's top functions, one line each: own time, share, calls, recorded calls."""
    lines = [f"{'own time':>10} {'share':>6} {'calls':>9}  function (recorded calls)"]
    for f in trace["functions"][:n]:
        rec = f.get("recording") or {}
        where = f"{Path(f['file']).relative_to(trace['root'])}::{f['qualname'] or f['name']}"
        note = f"{rec.get('kept', 0)} recorded" if rec else (f["reason"][:60] or "not recorded")
        if rec.get("skipped"):
            note += f", {sum(s['count'] for s in rec['skipped'])} skipped"
        lines.append(
            f"{f['own_s'] * 1e3:>8.1f}ms {100 * f['share']:>5.1f}% {f['calls']:>9}  {where} ({note})"
        )
    return lines


# ------------------------------------------------------------------------------------------ end to end
@dataclass
class EndToEnd:
    """The command run again: original and new code interleaved, CPU time of the whole command."""

    original_s: list[float]
    new_s: list[float]
    speedup: float
    ci: tuple[float, float]
    significant: bool
    output_same: bool
    difference: str = ""  # what differed, when the output did

    def line(self) -> str:
        if not self.output_same:
            return f"end to end: the command's output is NOT the same with the new code ({self.difference})"
        lo, hi = self.ci
        sig = "significant" if self.significant else "not significant"
        return (
            f"end to end: same output; CPU time median of {len(self.original_s)} runs each "
            f"{statistics.median(self.original_s):.3f} s -> {statistics.median(self.new_s):.3f} s, "
            f"{self.speedup:.2f}x (95% interval {lo:.2f}-{hi:.2f}x, {sig})"
        )


def end_to_end(
    trace: dict, overlay: list[dict], repeats: int = 5, min_gain: float = 0.05, timeout: float | None = None
) -> EndToEnd:
    """Run the traced command with the original and with `overlay` (module, file, source) interleaved,
    `repeats` times each after one warm-up of each; compare outputs with the traced run's."""
    cwd = Path(trace["cwd"])
    argv = trace["command"]
    want = (trace["stdout_sha256"], trace["exit"])
    # the original is served the same way as the new code (compiled from its source, no cached
    # bytecode), so the two runs differ in the code alone
    same = [{**o, "source": Path(o["file"]).read_text(encoding="utf-8")} for o in overlay]
    a, b = [], []
    difference = ""
    for i in range(repeats + 1):
        for which, ov, samples in (("original", same, a), ("new", overlay, b)):
            code, stdout, cpu, _ = _run_captured("run", {"argv": argv, "overlay": ov}, cwd, timeout)
            got = (hashlib.sha256(stdout).hexdigest(), code)
            if got != want and not difference:
                difference = (
                    f"the {which} code's run printed {len(stdout)} bytes and exited {code}; the traced run "
                    f"printed {trace['stdout_bytes']} bytes and exited {trace['exit']}"
                )
                if which == "original":
                    difference += " (the command's own output changes from run to run)"
            if i:  # the first round warms the caches up
                samples.append(cpu)
    speedup = statistics.median(a) / statistics.median(b) if statistics.median(b) > 0 else float("inf")
    ci = bootstrap_ratio_ci(a, b)
    return EndToEnd(a, b, speedup, ci, ci[0] > 1 + min_gain, not difference, difference)


# -------------------------------------------------------------------------------------------- optimize
@dataclass
class FunctionOutcome:
    target: str
    status: str  # improved, unchanged, skipped
    reason: str = ""
    speedup: float = 1.0
    ci: tuple[float, float] = (1.0, 1.0)
    improved: bool = False
    run_id: str = ""


@dataclass
class TraceOutcome:
    command: str
    functions: list[FunctionOutcome] = field(default_factory=list)
    changes: list[tuple[Path, str, str]] = field(default_factory=list)
    end_to_end: EndToEnd | None = None

    @property
    def run_ids(self) -> list[str]:
        return [f.run_id for f in self.functions if f.run_id]

    def lines(self) -> list[str]:
        out = []
        for f in self.functions:
            if f.status == "skipped":
                out.append(f"{f.target}: skipped ({f.reason})")
            elif f.status == "improved":
                lo, hi = f.ci
                out.append(
                    f"{f.target}: {f.speedup:.2f}x on its recorded calls (95% interval {lo:.2f}-{hi:.2f}x)"
                )
            else:
                out.append(f"{f.target}: unchanged ({f.reason or 'no proven improvement'})")
        if self.end_to_end is not None:
            out.append(self.end_to_end.line())
            if not self.end_to_end.output_same:
                out.append("nothing was written: the change would alter what the command prints")
        elif not self.changes:
            out.append("no function was changed: the command is as it was")
        return out

    def facts(self) -> str:
        done = [f for f in self.functions if f.status == "improved"]
        per = "; ".join(f"{f.target} {f.speedup:.2f}x" for f in done)
        e2e = self.end_to_end.line() if self.end_to_end else ""
        return f"Functions changed, each verified on its recorded calls in the sandbox: {per}. {e2e}."

    def to_dict(self) -> dict:
        return {
            "command": self.command,
            "functions": [asdict(f) for f in self.functions],
            "changed_files": [str(p) for p, _, _ in self.changes],
            "end_to_end": asdict(self.end_to_end) if self.end_to_end else None,
        }


def optimize_trace(
    path: str | Path,
    *,
    top: int,
    optimizer: Callable[[Any], Any],
    open_sandbox: Callable[[tuple[str, ...]], Any],
    timing_calls: int = 5,
    repeats: int | None = None,
    say: Callable[[str], None] = print,
) -> TraceOutcome:
    """Optimize the trace's top `top` recorded functions, then time the command end to end."""
    trace = load_trace(path)
    root = Path(trace["root"])
    outcome = TraceOutcome(command="python " + " ".join(trace["command"]))
    candidates = [f for f in trace["functions"] if f.get("recording") is not None][:top]
    if not candidates:
        raise TaskError(
            f"the trace {path} has no recorded calls of any function of the project under {root}; "
            "trace a command that runs the project's own code"
        )
    if not trace.get("output_stable", True):
        say(
            "note: the command printed different output in its two traced runs; the end-to-end check will say so"
        )
    sources: dict[str, str] = {}
    originals: dict[str, str] = {}
    modules: dict[str, str] = {}
    sandbox = open_sandbox((str(root),))
    try:
        for f in candidates:
            file, q = f["file"], f["qualname"]
            target = f"{Path(file).relative_to(root)}::{q}"
            if file not in sources:
                originals[file] = sources[file] = Path(file).read_text(encoding="utf-8")
            rec = from_recorder(f["recording"], {"sys_path": trace["sys_path"], "cwd": trace["record_cwd"]})
            if rec.module == "__main__" and runs_at_import(sources[file]):
                outcome.functions.append(FunctionOutcome(target, "skipped", _SCRIPT_REASON))
                continue
            if not rec.calls:
                why = rec.skipped[0]["reason"] if rec.skipped else "it was not called in the recorded run"
                outcome.functions.append(
                    FunctionOutcome(target, "skipped", f"no usable recorded call: {why}")
                )
                continue
            for s in rec.skipped:
                say(f"{target}: skipped {s['count']} recorded call(s): {s['reason']}")
            try:
                task, found = build_task(sources[file], file, q, rec, root, timing_calls)
                task = calibrate(sandbox, verify_task(sandbox, task, found), found)
            except TaskError as e:
                outcome.functions.append(FunctionOutcome(target, "skipped", str(e)))
                continue
            say(
                f"{target}: {len(found.calls)} recorded call(s) are its oracle; timed on the "
                f"{len(found.timing)} costliest, {found.repeats}x per run"
            )
            try:
                result = optimizer(sandbox).run(task)
            except TaskError as e:
                outcome.functions.append(FunctionOutcome(target, "skipped", str(e)))
                continue
            fo = FunctionOutcome(
                target,
                result.status if result.status == "improved" else "unchanged",
                result.stop_reason,
                result.speedup,
                result.speedup_ci,
                result.improved,
                result.run_id,
            )
            outcome.functions.append(fo)
            if result.status == "improved" and result.best_code != sources[file]:
                sources[file] = result.best_code
                modules[file] = rec.module
    finally:
        sandbox.close()
    outcome.changes = [(Path(f), originals[f], sources[f]) for f in sources if sources[f] != originals[f]]
    if outcome.changes:
        say(
            "running the command again, original and new code interleaved (the new code runs on this machine)"
        )
        overlay = [
            {"module": modules[str(p)], "file": str(p), "source": new} for p, _, new in outcome.changes
        ]
        outcome.end_to_end = end_to_end(trace, overlay, repeats=max(3, repeats or 5))
    return outcome


_SCRIPT_REASON = (
    'it is in the script itself, which does its work when imported (no `if __name__ == "__main__":` '
    "block), so its recorded calls cannot be replayed on their own: move it into a module or add the block"
)
