"""The call recorder that runs in the user's own process: under their pytest suite or their command.

Stdlib only, and loaded by path (``python -c`` bootstrap, `bootstrap`), never as part of the
``afterburner`` package: the user's process gets none of afterburner's imports or sys.path entries.
`Recorder` traces (``sys.settrace``, its local tracer only in the target's frames) every top-level call
of the target functions and keeps, per call: the arguments, pickled before the call; the outcome as data
(`projectmode.behaviour`: return value or exception, and the arguments after the call); its time; the
lines of the target it ran. An argument that does not pickle (an open file, a socket, a lambda) is
counted with the reason under ``skipped``, never dropped silently.

Modes of `main` (the parent, `afterburner.discover` and `afterburner.tracing`, writes a JSON spec):
``pytest`` (run pytest with the recorder on the target during each test), ``profile`` (run a command
under cProfile), ``record`` (run it with the recorder on the given functions), ``run`` (run it with
some modules' sources replaced, to time the new code end to end). Each writes its findings as JSON to
the spec's ``out`` and exits with the command's own exit code.
"""

from __future__ import annotations

import base64
import functools
import importlib.abc
import importlib.util
import json
import os
import pickle
import reprlib
import sys
import threading
import time
import traceback
import types
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))


def _sibling(name: str, rel: str) -> types.ModuleType:
    key = f"_afterburner_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, os.path.join(_HERE, rel))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[key] = mod
    spec.loader.exec_module(mod)
    return mod


projectmode = _sibling("projectmode", os.path.join("sandbox", "projectmode.py"))
codec = _sibling("codec", os.path.join("sandbox", "codec.py"))

MAX_BLOB = 16 << 20  # pickled arguments of one call
_GENERATOR_FLAGS = 0x20 | 0x80 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ASYNC_GENERATOR
_repr = reprlib.Repr()
_repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxdict, _repr.maxlevel = 60, 60, 8, 6, 3


def _safe_repr(x: object) -> str:
    try:
        return _repr.repr(x)
    except Exception as e:
        return f"<{type(x).__name__}: repr failed ({type(e).__name__})>"


def _pickle_error(value: object) -> Exception | None:
    try:
        pickle.loads(pickle.dumps(value, protocol=4))
    except Exception as e:
        return e
    return None


class _Target:
    def __init__(self, spec: dict) -> None:
        self.file = os.path.realpath(spec["file"])
        self.qualname = spec["qualname"]
        self.drop_first = bool(spec.get("drop_first"))
        self.module = ""
        self.seen = self.kept = self.not_kept = 0
        self.calls: list[dict] = []
        self.skipped: dict[str, dict] = {}
        self.lines: set[int] = set()
        self.tests: set[str] = set()
        self.per_test: dict[str, int] = {}

    def skip(self, reason: str, test: str, text: str) -> None:
        s = self.skipped.setdefault(reason, {"reason": reason, "count": 0, "tests": [], "call": text})
        s["count"] += 1
        if test and test not in s["tests"] and len(s["tests"]) < 5:
            s["tests"].append(test)

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "qualname": self.qualname,
            "module": self.module,
            "seen": self.seen,
            "kept": self.kept,
            "not_kept": self.not_kept,
            "calls": self.calls,
            "skipped": list(self.skipped.values()),
            "lines": sorted(self.lines),
            "tests": sorted(self.tests),
        }


class _Call:
    __slots__ = ("args", "blob", "depth", "kwargs", "lines", "t0", "target", "test", "text")

    def __init__(self, target: _Target, test: str) -> None:
        self.target, self.test = target, test
        self.args: tuple = ()
        self.kwargs: dict = {}
        self.blob: bytes | None = None
        self.text = ""
        self.t0 = 0.0
        self.lines: set[int] = set()
        self.depth = 1


class Recorder:
    """Records the calls of `targets` (dicts: file, qualname, drop_first) while started (`start`).

    A target is wrapped when its module is imported (`install`: a finder ahead of the others wraps the
    function in the module, or the method in its class, once the module has run): a call then costs its
    own recording and nothing is traced outside it. A target that cannot be wrapped (a decorated
    function, a function of the script being run as ``__main__``) is found by a tracer on every call
    instead (slower: ``sys.settrace`` for the whole run)."""

    def __init__(
        self, targets: list[dict], max_calls: int = 2000, per_test: int = 200, max_bytes: int = 512 << 20
    ) -> None:
        self.targets = [_Target(t) for t in targets]
        self.by_file: dict[str, dict[str, _Target]] = {}
        for t in self.targets:
            self.by_file.setdefault(t.file, {})[t.qualname] = t
        self._files: dict[str, dict | None] = {}
        self.max_calls, self.per_test, self.bytes_left = max_calls, per_test, max_bytes
        self.test = ""
        self.on = False
        self.traced: set[int] = set()  # targets found by the tracer, not wrapped
        self._tls = threading.local()
        self._saved: list = []

    # -- switching on and off -------------------------------------------------------------------------
    def install(self, script: str | None = None) -> None:
        """Wrap the targets as their modules are imported; `script`'s own targets are traced."""
        if script is not None:
            for t in self.by_file.get(os.path.realpath(script), {}).values():
                self.traced.add(id(t))
        self._finder = _WrapFinder(self)
        sys.meta_path.insert(0, self._finder)
        for mod in list(sys.modules.values()):  # imported already (by a plugin, say)
            self.wrap_module(mod)

    def uninstall(self) -> None:
        """No more wrapping of modules imported from now on (the wrapped functions stay wrapped, and
        record nothing while the recorder is off)."""
        finder = getattr(self, "_finder", None)
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)

    def start(self) -> None:
        self.on = True
        if self.traced:
            self._saved.append((sys.gettrace(), threading.gettrace()))
            threading.settrace(self._global)
            sys.settrace(self._global)

    def stop(self) -> None:
        self.on = False
        if self._saved:
            prev, prev_threads = self._saved.pop()
            sys.settrace(prev)
            threading.settrace(prev_threads)

    # -- wrapping -------------------------------------------------------------------------------------
    def wrap_module(self, module: types.ModuleType) -> None:
        file = getattr(module, "__file__", None)
        targets = self.by_file.get(os.path.realpath(file)) if isinstance(file, str) else None
        for t in (targets or {}).values():
            if id(t) not in self.traced and not self._wrap(t, module):
                self.traced.add(id(t))

    def _wrap(self, t: _Target, module: types.ModuleType) -> bool:
        parts = t.qualname.split(".")
        owner: Any = module
        if len(parts) == 2:
            owner = module.__dict__.get(parts[0])
            if not isinstance(owner, type):
                return False
        raw = vars(owner).get(parts[-1])
        kind = type(raw) if isinstance(raw, staticmethod | classmethod) else None
        fn = raw.__func__ if kind else raw
        if getattr(fn, "__afterburner_recorded__", False):
            return True
        if not isinstance(fn, types.FunctionType) or fn.__code__.co_qualname != t.qualname:
            return False
        if os.path.realpath(fn.__code__.co_filename) != t.file:
            return False
        t.module = module.__name__
        wrapped = self._wrapper(t, fn)
        setattr(owner, parts[-1], kind(wrapped) if kind else wrapped)
        return True

    def _wrapper(self, t: _Target, fn: types.FunctionType):
        rec, names = self, fn.__code__.co_varnames[: fn.__code__.co_argcount]

        @functools.wraps(fn)
        def recorded(*args, **kwargs):
            active = rec._active() if rec.on else None
            if active is None or id(t) in active:  # off, or a recursive call inside a recorded one
                return fn(*args, **kwargs)
            pos = args[1:] if t.drop_first else args
            named = list(zip(names[1:] if t.drop_first else names, pos, strict=False))
            named += [(f"*args[{i}]", v) for i, v in enumerate(pos[len(named) :])]
            call = rec._open(t, tuple(pos), dict(kwargs), named)
            active[id(t)] = call
            prev = sys.gettrace()
            sys.settrace(rec._coverage(t, call))
            call.t0 = time.perf_counter()
            try:
                ret = fn(*args, **kwargs)
            except BaseException as e:
                sys.settrace(prev)
                active.pop(id(t), None)
                rec._finish(t, call, None, e)
                raise
            sys.settrace(prev)
            active.pop(id(t), None)
            rec._finish(t, call, ret, None)
            return ret

        recorded.__afterburner_recorded__ = True
        return recorded

    def _coverage(self, t: _Target, call: _Call):
        """The tracer during one recorded call: the lines of the target (and of its comprehensions and
        inner functions, and of its recursive calls) that run."""
        q, prefix = t.qualname, t.qualname + ".<locals>."

        def local(frame, event, arg):
            if event == "line":
                t.lines.add(frame.f_lineno)
                call.lines.add(frame.f_lineno)
            return local

        def glob(frame, event, arg):
            co = frame.f_code
            if (co.co_qualname == q or co.co_qualname.startswith(prefix)) and self._real(
                co.co_filename
            ) == t.file:
                return local
            return None

        return glob

    def _real(self, filename: str) -> str:
        real = self._files.get(filename)
        if real is None:
            real = self._files[filename] = os.path.realpath(filename)
        return real

    # -- tracing (targets that cannot be wrapped) -----------------------------------------------------
    def _global(self, frame, event, arg):
        co = frame.f_code
        targets = self.by_file.get(self._real(co.co_filename))
        if targets is None:
            return None
        t = targets.get(co.co_qualname)
        if t is None:  # a comprehension or inner function of a target: its lines count for coverage
            i = co.co_qualname.find(".<locals>.")
            owner = targets.get(co.co_qualname[:i]) if i > 0 else None
            return self._lines_only(owner) if owner is not None and id(owner) in self.traced else None
        return self._enter(t, frame) if id(t) in self.traced else None

    def _active(self) -> dict:
        act = getattr(self._tls, "active", None)
        if act is None:
            act = self._tls.active = {}
        return act

    def _lines_only(self, t: _Target):
        call = self._active().get(id(t))

        def local(frame, event, arg):
            if event == "line":
                t.lines.add(frame.f_lineno)
                if call is not None:
                    call.lines.add(frame.f_lineno)
            return local

        return local

    def _enter(self, t: _Target, frame):
        co = frame.f_code
        if co.co_flags & _GENERATOR_FLAGS:
            t.skip(
                f"{t.qualname} is a generator or async function: afterburner compares return values", "", ""
            )
            return None
        active = self._active()
        outer = active.get(id(t))
        if outer is not None:  # a recursive call inside a recorded one: its lines, not a call of its own
            outer.depth += 1
            return self._local(t, outer, top=False)
        if not t.module:
            t.module = frame.f_globals.get("__name__", "") or ""
        pos, kw, named = _frame_args(frame)
        if t.drop_first and pos:
            pos, named = pos[1:], named[1:]
        call = self._open(t, tuple(pos), kw, named)
        active[id(t)] = call
        call.t0 = time.perf_counter()
        return self._local(t, call, top=True)

    # -- one call -------------------------------------------------------------------------------------
    def _open(self, t: _Target, args: tuple, kwargs: dict, named: list) -> _Call:
        """A call begins: count it, and (within the caps) pickle its arguments, or say why not."""
        t.seen += 1
        test = self.test
        if test:
            t.tests.add(test)
        call = _Call(t, test)
        call.args, call.kwargs = args, kwargs
        if t.kept >= self.max_calls or t.per_test.get(test, 0) >= self.per_test or self.bytes_left <= 0:
            t.not_kept += 1
            return call
        shown = [_safe_repr(v) for v in args] + [f"{a}={_safe_repr(v)}" for a, v in kwargs.items()]
        call.text = f"{t.qualname}({', '.join(shown)})"[:300]
        try:
            blob = pickle.dumps((args, kwargs), protocol=4)
            pickle.loads(blob)
        except Exception as e:
            t.skip(self._culprit(named, kwargs, e), call.test, call.text)
            return call
        if len(blob) > MAX_BLOB:
            t.skip(
                f"the arguments are too large to record ({len(blob) >> 20} MiB pickled)", call.test, call.text
            )
            return call
        call.blob = blob
        return call

    @staticmethod
    def _culprit(named: list, kw: dict, err: Exception) -> str:
        """Which argument would not serialize, and why (one line)."""
        for name, value in [*named, *kw.items()]:
            e = _pickle_error(value)
            if e is not None:
                what = projectmode.type_name(type(value))
                return f"argument {name!r} ({what}) cannot be serialized: {type(e).__name__}: {e}"[:300]
        return f"the arguments cannot be serialized: {type(err).__name__}: {err}"[:300]

    def _local(self, t: _Target, call: _Call, top: bool):
        state = {"exc": None}

        def local(frame, event, arg):
            if event == "line":
                t.lines.add(frame.f_lineno)
                call.lines.add(frame.f_lineno)
                state["exc"] = None
            elif event == "exception":
                state["exc"] = arg[1]
            elif event == "return":
                if not top:
                    call.depth -= 1
                    return local
                self._active().pop(id(t), None)
                exc = state["exc"] if arg is None else None
                self._finish(t, call, arg, exc)
            return local

        return local

    def _finish(self, t: _Target, call: _Call, ret: object, exc: BaseException | None) -> None:
        elapsed = time.perf_counter() - call.t0
        if call.blob is None:
            return
        if exc is not None and not isinstance(exc, Exception):
            t.skip(f"the call ended with {type(exc).__name__}", call.test, call.text)
            return
        out = projectmode.behaviour(ret, exc, call.args, call.kwargs)
        if "unrepresentable" in out:
            t.skip(f"its outcome cannot be compared as data: {out['unrepresentable']}", call.test, call.text)
            return
        self.bytes_left -= len(call.blob)
        t.kept += 1
        t.per_test[call.test] = t.per_test.get(call.test, 0) + 1
        t.calls.append(
            {
                "test": call.test,
                "blob": base64.b64encode(call.blob).decode("ascii"),
                "repr": call.text,
                "expected": codec.encode(out),
                "time": elapsed,
                "lines": sorted(call.lines),
            }
        )

    def result(self) -> dict:
        return {"targets": [t.to_dict() for t in self.targets]}


def _frame_args(frame) -> tuple[list, dict, list]:
    """The arguments of a frame at its 'call' event: positional, keyword-only (+ **kwargs), named."""
    co, loc = frame.f_code, frame.f_locals
    names, n, k = co.co_varnames, co.co_argcount, co.co_kwonlyargcount
    pos = [loc[x] for x in names[:n]]
    kw = {x: loc[x] for x in names[n : n + k]}
    i = n + k
    if co.co_flags & 0x04:  # *args
        pos.extend(loc[names[i]])
        i += 1
    if co.co_flags & 0x08:  # **kwargs
        kw.update(loc[names[i]])
    return pos, kw, list(zip(names[:n], pos, strict=False))


class _WrapLoader(importlib.abc.Loader):
    """The module's own loader, and the targets wrapped once the module has run."""

    def __init__(self, loader: Any, rec: Recorder) -> None:
        self._loader, self._rec = loader, rec

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, is_package, ...
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        self._rec.wrap_module(module)


class _WrapFinder(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: asks the other finders, and gives a target's module a wrapping loader."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self._busy = threading.local()

    def find_spec(self, fullname, path=None, target=None):
        if getattr(self._busy, "on", False):
            return None
        self._busy.on = True
        try:
            spec = None
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.on = False
        if spec is None:
            return None
        origin = spec.origin
        if (
            isinstance(origin, str)
            and spec.loader is not None
            and os.path.realpath(origin) in self.rec.by_file
        ):
            spec.loader = _WrapLoader(spec.loader, self.rec)
        return spec


# ------------------------------------------------------------------------------------------ commands
def _run_command(argv: list[str], overlay: list[dict]) -> int:
    """Run ``script.py ARGS`` or ``-m module ARGS`` as python would, in this process; its exit code."""
    import builtins
    import runpy

    try:
        if argv[0] == "-m":
            name = argv[1]
            sys.argv = [name, *argv[2:]]
            sys.path[0] = os.getcwd()
            for o in overlay:
                projectmode.ProjectModule(
                    name if o["module"] == "__main__" else o["module"], o["file"], o["source"]
                ).install()
            runpy.run_module(name, run_name="__main__", alter_sys=True)
        else:
            path = os.path.abspath(argv[0])
            sys.argv = list(argv)
            sys.path[0] = os.path.dirname(path)
            source = None
            for o in overlay:
                if o["module"] == "__main__" and os.path.realpath(o["file"]) == os.path.realpath(path):
                    source = o["source"]
                else:
                    projectmode.ProjectModule(o["module"], o["file"], o["source"]).install()
            if source is None:
                with open(path, encoding="utf-8") as f:
                    source = f.read()
            main = types.ModuleType("__main__")
            main.__file__, main.__builtins__ = path, builtins
            sys.modules["__main__"] = main
            exec(compile(source, path, "exec"), main.__dict__)
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _main_file(argv: list[str]) -> str | None:
    """The file that runs as ``__main__`` (its functions cannot be wrapped at import: traced)."""
    if argv[0] != "-m":
        return argv[0]
    try:
        spec = importlib.util.find_spec(argv[1])
    except (ImportError, ValueError):
        return None
    if spec is not None and spec.submodule_search_locations is not None:  # a package: its __main__
        spec = importlib.util.find_spec(argv[1] + ".__main__")
    return spec.origin if spec is not None and isinstance(spec.origin, str) else None


def _profile(spec: dict) -> int:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    try:
        code = _run_command(spec["argv"], [])
    finally:
        prof.disable()
    rows = []
    for (file, line, name), (_cc, nc, tt, ct, _callers) in pstats.Stats(prof).stats.items():
        if file.startswith(("<", "~")) or not file:
            continue
        rows.append(
            {"file": os.path.realpath(file), "line": line, "name": name, "own": tt, "cum": ct, "calls": nc}
        )
    _dump(spec, {"exit": code, "functions": rows, "sys_path": _paths()})
    return code


def _record(spec: dict) -> int:
    rec = Recorder(spec["targets"], spec.get("max_calls", 500), spec.get("max_calls", 500))
    rec.install(script=_main_file(spec["argv"]))
    rec.start()
    try:
        code = _run_command(spec["argv"], [])
    finally:
        rec.stop()
    _dump(spec, {"exit": code, **rec.result(), "sys_path": _paths(), "cwd": os.getcwd()})
    return code


def _run(spec: dict) -> int:
    code = _run_command(spec["argv"], spec.get("overlay") or [])
    return code


def _pytest(spec: dict) -> int:
    import pytest

    rec = Recorder(spec["targets"], spec.get("max_calls", 2000), spec.get("per_test", 200))
    tests: dict[str, dict] = {}
    collect_errors: list = []
    rootdir = [""]

    def _error(report) -> str:
        lines = (getattr(report, "longreprtext", "") or "").strip().splitlines()
        errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
        return (errors[0] if errors else (lines[-1] if lines else ""))[:300]

    class Plugin:
        def _around(self, item):
            rec.test = item.nodeid
            rec.start()
            try:
                yield
            finally:
                rec.stop()
                rec.test = ""

        pytest_runtest_setup = pytest.hookimpl(hookwrapper=True)(_around)
        pytest_runtest_call = pytest.hookimpl(hookwrapper=True)(_around)
        pytest_runtest_teardown = pytest.hookimpl(hookwrapper=True)(_around)

        def pytest_runtest_logreport(self, report):
            o = tests.setdefault(report.nodeid, {"outcome": "passed", "duration": 0.0})
            o["duration"] += float(getattr(report, "duration", 0.0) or 0.0)
            if report.failed:
                if o["outcome"] != "failed":
                    o.update(outcome="failed", when=report.when, error=_error(report))
            elif report.skipped and o["outcome"] == "passed":
                o["outcome"] = "xfailed" if hasattr(report, "wasxfail") else "skipped"

        def pytest_sessionstart(self, session):
            rootdir[0] = str(getattr(session.config, "rootpath", "") or "")

        def pytest_collectreport(self, report):
            if report.failed:
                collect_errors.append([report.nodeid or "collection", _error(report)])

    sys.path[0] = os.getcwd()
    rec.install()
    code = int(pytest.main(list(spec["args"]), plugins=[Plugin()]))
    _dump(
        spec,
        {
            "exit": code,
            "tests": tests,
            "collect_errors": collect_errors,
            **rec.result(),
            "sys_path": _paths(),
            "cwd": os.getcwd(),
            "rootdir": os.path.realpath(rootdir[0]) if rootdir[0] else "",
        },
    )
    return code


def _paths() -> list[str]:
    return [os.path.realpath(p or os.getcwd()) for p in sys.path]


def _dump(spec: dict, data: dict) -> None:
    tmp = spec["out"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, spec["out"])


MODES = {"pytest": _pytest, "profile": _profile, "record": _record, "run": _run}


def main(argv: list[str]) -> int:
    """``MODE SPEC.json``: run that mode with the spec the parent wrote."""
    mode, spec_path = argv[0], argv[1]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    code = MODES[mode](spec)
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def bootstrap() -> str:
    """The ``python -c`` program that loads this file by path and runs `main` on its arguments."""
    return (
        "import importlib.util as u, sys\n"
        f"s = u.spec_from_file_location('_afterburner_recorder', {os.path.abspath(__file__)!r})\n"
        "m = u.module_from_spec(s); sys.modules[s.name] = m; s.loader.exec_module(m)\n"
        "sys.exit(m.main(sys.argv[1:3]))\n"
    )
