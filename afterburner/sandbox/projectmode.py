"""A function of a real project, run in the sandbox child: its module imported under its own name.

Stdlib only: the harness imports it inside the sandbox, and the call recorder (`afterburner.recorder`)
loads it by path in the user's test or script process. Three pieces:

- `plain(x)`: any value as builtin data (objects as ``{"__class__": "pkg.mod.Point", "x": 1, ...}``
  from their pickling state), so a recorded return value can travel as data and be compared in the
  parent; a value that has no such form (a generator, a socket) raises `Unrepresentable`;
- `ProjectModule`: a meta path finder that serves the candidate's source as the project's module
  (``pkg.mod``, with its real ``__file__`` and package, so module globals, relative imports and the
  project's other modules work, and the classes the inputs were pickled with are the candidate's);
- `probe(fn)`: the entry point wrapped so that a call returns what a recorded call is compared on:
  ``{"returned": ...}`` or ``{"raised": ...}``, plus the arguments after the call (mutation is behaviour).

`run_pytest` runs the project's discovered tests with the candidate module swapped in (job "pytest").
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import linecache
import os
import sys
import types

FILENAME = "<candidate>"  # what the sandbox's profiler looks for in a frame
MAIN_ALIAS = "__afterburner_main__"  # a script's module, imported without running its main block
MAX_DEPTH = 60
MAX_ITEMS = 2_000_000
_FUNCS = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
)
_ATOMS = (type(None), bool, int, float, str, bytes, complex)


class Unrepresentable(Exception):
    """A value with no data form (a generator, an open file, a value nested too deeply)."""


def type_name(t: type) -> str:
    """``pkg.mod.Class`` (builtins without their module: ``ValueError``)."""
    module = getattr(t, "__module__", "?")
    if module == MAIN_ALIAS:
        module = "__main__"
    name = getattr(t, "__qualname__", getattr(t, "__name__", "?"))
    return name if module == "builtins" else f"{module}.{name}"


def plain(x: object) -> object:
    """`x` as builtin data (None, bool, int, float, str, bytes, complex, list, tuple, dict, set)."""
    return _plain(x, 0, set(), [MAX_ITEMS])


def _plain(x: object, depth: int, active: set, budget: list) -> object:
    budget[0] -= 1
    if budget[0] < 0:
        raise Unrepresentable("the value is too large to compare (over 2 million parts)")
    if depth > MAX_DEPTH:
        raise Unrepresentable(f"the value is nested more than {MAX_DEPTH} levels deep")
    t = type(x)
    if t in _ATOMS:
        return x
    if t is bytearray:
        return bytes(x)
    key = id(x)
    if key in active:
        return {"__cycle__": type_name(t)}
    active.add(key)
    try:
        d = depth + 1
        if t is list:
            return [_plain(v, d, active, budget) for v in x]
        if t is tuple:
            return tuple(_plain(v, d, active, budget) for v in x)
        if t is dict:
            return _dict([(_plain(k, d, active, budget), _plain(v, d, active, budget)) for k, v in x.items()])
        if t is set or t is frozenset:
            return t(_key(_plain(v, d, active, budget)) for v in x)
        if isinstance(x, _FUNCS) or isinstance(x, type):
            name = getattr(x, "__qualname__", getattr(x, "__name__", "?"))
            module = getattr(x, "__module__", None) or "builtins"
            return {"__function__": f"{'__main__' if module == MAIN_ALIAS else module}.{name}"}
        if getattr(t, "__module__", "") == "numpy" and hasattr(x, "tolist"):
            value = x.tolist()
            out = {"__class__": type_name(t), "value": _plain(value, d, active, budget)}
            if hasattr(x, "dtype"):
                out["dtype"] = str(x.dtype)
            return out
        return _object(x, d, active, budget)
    finally:
        active.discard(key)


_JSON_KEYS = (str, int, float, bool, type(None))


def _dict(items: list) -> dict:
    """A plain dict; one whose keys JSON cannot spell (tuples, frozensets) as ``{"__dict__": pairs}``
    in a canonical order, so a task holding it can be written as JSON and equal dicts stay equal."""
    if all(type(k) in _JSON_KEYS for k, _ in items):
        return dict(items)
    return {"__dict__": sorted(([k, v] for k, v in items), key=lambda kv: _canon(kv[0]))}


def _canon(p: object) -> str:
    """A text that orders plain values the same way in every process (sets sorted, not hashed)."""
    if isinstance(p, list | tuple):
        return f"{type(p).__name__}[{','.join(_canon(v) for v in p)}]"
    if isinstance(p, set | frozenset):
        return f"{type(p).__name__}{{{','.join(sorted(_canon(v) for v in p))}}}"
    if isinstance(p, dict):
        return f"dict{{{','.join(sorted(_canon(k) + ':' + _canon(v) for k, v in p.items()))}}}"
    return f"{type(p).__name__}:{p!r}"


def _key(p: object) -> object:
    """A hashable form of a plain value (dict keys and set items must be hashable)."""
    if isinstance(p, list | tuple):
        return tuple(_key(v) for v in p)
    if isinstance(p, dict):
        return tuple(sorted(((repr(k), _key(v)) for k, v in p.items()), key=lambda kv: kv[0]))
    if isinstance(p, set):
        return frozenset(p)
    return p


def _object(x: object, d: int, active: set, budget: list) -> dict:
    t = type(x)
    try:
        rv = x.__reduce_ex__(4)
    except Exception as e:
        raise Unrepresentable(f"a {type_name(t)} has no data form ({type(e).__name__}: {e})") from None
    out: dict = {"__class__": type_name(t)}
    if isinstance(rv, str):
        out["ref"] = rv
        return out
    rv = tuple(rv) + (None,) * (5 - len(rv))
    func, args, state, listitems, dictitems = rv[:5]
    how = getattr(func, "__name__", "")
    if how == "__newobj__" and args:
        args = tuple(args)[1:]  # the class itself
    elif how == "__newobj_ex__" and args and len(args) == 3:
        args = (tuple(args[1]), dict(args[2])) if args[2] else tuple(args[1])
    elif func is not t:
        out["made by"] = _plain(func, d, active, budget)
    if args:
        out["args"] = _plain(tuple(args), d, active, budget)
    if isinstance(state, dict) and all(type(k) is str for k in state) and not args:
        for k, v in state.items():
            out[k if k not in out else f"state.{k}"] = _plain(v, d, active, budget)
    elif state is not None:
        out["state"] = _plain(state, d, active, budget)
    if listitems is not None:
        out["items"] = [_plain(v, d, active, budget) for v in listitems]
    if dictitems is not None:
        out["dict items"] = _dict(
            [(_plain(k, d, active, budget), _plain(v, d, active, budget)) for k, v in dictitems]
        )
    return out


def outcome(fn, args: tuple, kwargs: dict, after: bool = True) -> dict:
    """Call `fn`; what the call did, as data: its return value or exception, and (with `after`) its
    arguments after the call."""
    try:
        ret = fn(*args, **kwargs)
    except Exception as e:  # an exception is behaviour to preserve (BaseException ends the run)
        return behaviour(None, e, args, kwargs, after)
    return behaviour(ret, None, args, kwargs, after)


def behaviour(ret: object, exc: BaseException | None, args: tuple, kwargs: dict, after: bool = True) -> dict:
    """The data a recorded call is compared on (the same in the recorder and in the sandbox). The keys
    sort in reading order (the codec writes dicts sorted): raised or returned, then args, then kwargs."""
    try:
        out = {"raised": plain(exc)} if exc is not None else {"returned": plain(ret)}
        if after:
            out["then args"] = plain(tuple(args))
            out["then kwargs"] = plain(dict(kwargs))
    except Unrepresentable as e:
        return {"unrepresentable": str(e)}
    return out


_OUTCOME_KEYS = {"returned", "raised", "then args", "then kwargs"}


def difference(expected: object, got: object, equal=None) -> tuple[str, object, object] | None:
    """For two outcomes of a recorded call (`behaviour`), what differs: (why, expected part, got part);
    None when they are not such outcomes or do not differ. `equal(a, b)` compares parts (default ==)."""
    equal = equal or (lambda a, b: a == b)
    if not (isinstance(expected, dict) and isinstance(got, dict)):
        return None
    if not (set(expected) <= _OUTCOME_KEYS and set(got) <= _OUTCOME_KEYS and expected and got):
        return None
    if ("raised" in expected) != ("raised" in got):
        if "raised" in expected:
            return "returned where the original raised an exception", expected["raised"], got.get("returned")
        return "raised an exception where the original returned", expected.get("returned"), got["raised"]
    for key, why in (
        ("raised", "raised another exception than the original"),
        ("returned", "wrong return value on a recorded call"),
        ("then args", "the arguments after the call differ from the original's (it changes its inputs)"),
        ("then kwargs", "the keyword arguments after the call differ from the original's"),
    ):
        if key in expected and not equal(got.get(key), expected.get(key)):
            return why, expected.get(key), got.get(key)
    return None


class _Loader(importlib.abc.InspectLoader):
    def __init__(self, source: str) -> None:
        self.source = source

    def get_source(self, fullname: str) -> str:
        return self.source

    def get_code(self, fullname: str) -> types.CodeType:
        linecache.cache[FILENAME] = (len(self.source), None, self.source.splitlines(True), FILENAME)
        return compile(self.source, FILENAME, "exec")

    def exec_module(self, module: types.ModuleType) -> None:
        exec(self.get_code(module.__name__), module.__dict__)


class ProjectModule(importlib.abc.MetaPathFinder):
    """Serves `source` as the module `name` (whose file is `file`), ahead of every other finder."""

    def __init__(self, name: str, file: str, source: str) -> None:
        self.name, self.file, self.loader = name, file, _Loader(source)

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        search = [os.path.dirname(self.file)] if os.path.basename(self.file) == "__init__.py" else None
        return importlib.util.spec_from_file_location(
            fullname, self.file, loader=self.loader, submodule_search_locations=search
        )

    def install(self) -> ProjectModule:
        sys.meta_path.insert(0, self)
        return self


def enter(project: dict) -> None:
    """The project's import path first on sys.path, and its working directory."""
    for p in reversed(project.get("paths") or []):
        if p not in sys.path:
            sys.path.insert(0, p)
    cwd = project.get("cwd")
    if cwd and os.path.isdir(cwd):
        os.chdir(cwd)


def load(project: dict, source: str) -> dict:
    """Import the candidate `source` as the project's module; its namespace."""
    enter(project)
    name, file = project["module"], project["file"]
    if name == "__main__":  # a script: imported under another name, so its main block does not run
        mod = types.ModuleType(MAIN_ALIAS)
        mod.__file__ = file
        sys.modules[MAIN_ALIAS] = sys.modules["__main__"] = mod
        _Loader(source).exec_module(mod)
        return mod.__dict__
    ProjectModule(name, file, source).install()
    return importlib.import_module(name).__dict__


def unwrap(inputs: list) -> tuple[list, list]:
    """Inputs of a project task, each case ``((recorded (args, kwargs), after), {})``: the calls, and
    per call whether its arguments after the call are compared (the tests' cases; not the workload's,
    whose outputs are compared with the original's on the same inputs, and whose timed runs should
    spend their time in the function, not in copying its arguments)."""
    calls, after = [], []
    for args, _ in inputs:
        call = args[0]
        calls.append((tuple(call[0]), dict(call[1])))
        after.append(bool(args[1]) if len(args) > 1 else True)
    return calls, after


def run_pytest(project: dict, source: str, args: list) -> dict:
    """Run pytest in this process with the candidate's module swapped in; the failures as data."""
    enter(project)
    if project["module"] != "__main__":
        ProjectModule(project["module"], project["file"], source).install()
    import pytest

    failed: list = []
    counts = {"passed": 0}

    class _Collect:
        def pytest_runtest_logreport(self, report):
            if report.failed:
                text = (getattr(report, "longreprtext", "") or "").strip().splitlines()
                failed.append([report.nodeid, report.when, _last_error(text)])
            elif report.passed and report.when == "call":
                counts["passed"] += 1

        def pytest_collectreport(self, report):
            if report.failed:
                text = (getattr(report, "longreprtext", "") or "").strip().splitlines()
                failed.append([report.nodeid or "collection", "collect", _last_error(text)])

    code = int(pytest.main(list(args), plugins=[_Collect()]))
    ok = code == 0 and not failed and counts["passed"] > 0
    return {"status": "ok" if ok else "wrong_answer", "exit": code, "failed": failed[:20], **counts}


def _last_error(lines: list) -> str:
    """The most telling line of a pytest failure: the ``E ...`` line, else the last one."""
    errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    text = errors[0] if errors else (lines[-1] if lines else "")
    return text[:300]
