"""``numba_njit``: ``@numba.njit`` on a module-level target whose time goes to Python loops (nested loops,
or most of the profile inside its loops), which calls only builtins, math and numpy.

Needs numba (``pip install 'afterburner[numba]'``); skipped with that reason when it is absent.
``dtype=float`` (and int, bool, complex) in numpy calls becomes ``np.float64`` (numpy reads both alike;
numba types only the second). The compile time (about a second) is part of the measured run, so it is
tried only where the original's run takes longer (`NUMBA_MIN_RUN_S`).
"""

from __future__ import annotations

import ast
import importlib.util

from afterburner.agent.rewrites.analysis import Module
from afterburner.agent.rewrites.rewrite import Rewrite
from afterburner.agent.rewrites.source import Source, with_import
from afterburner.agent.rewrites.syntax import LOOPS, SCOPES, bound_names, own_loops, param_names
from afterburner.task import parse_entry_point

NUMBA_SHARE = 0.5  # numba: at least this share of the time inside the target's loops
NUMBA_MIN_RUN_S = 1.0  # numba: its compile time (about a second, in the measured run) needs a longer run
_NUMBA_BUILTINS = {"range", "len", "abs", "min", "max", "int", "float", "bool", "enumerate", "zip", "round",
                   "sum", "ValueError", "IndexError", "ZeroDivisionError", "RuntimeError"}  # fmt: skip
_DTYPES = {"float": "float64", "int": "int_", "bool": "bool_", "complex": "complex128"}


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


def _loop_heavy(fn: ast.FunctionDef, hot: dict[int, float] | None) -> bool:
    """Most of the measured time inside the function's loops; without a profile, a loop in a loop."""
    loops = own_loops(fn)
    if hot is not None:
        share = sum(s for ln, s in hot.items() if any(lp.lineno <= ln <= lp.end_lineno for lp in loops))
        return share >= NUMBA_SHARE
    return any(isinstance(n, LOOPS) for lp in loops for n in ast.walk(lp) if n is not lp)


def _numba_blocker(mod: Module, fn: ast.FunctionDef) -> str:
    """Why `@numba.njit` cannot compile `fn` ("" when it may)."""
    if fn.decorator_list:
        return f"{fn.name} has a decorator"
    local = bound_names(fn) | param_names(fn)
    for n in ast.walk(fn):
        if n is not fn and isinstance(
            n,
            (
                *SCOPES,
                ast.Try,
                ast.With,
                ast.Global,
                ast.Nonlocal,
                ast.Yield,
                ast.YieldFrom,
                ast.JoinedStr,
                ast.Dict,
                ast.Set,
                ast.DictComp,
                ast.SetComp,
                ast.GeneratorExp,
                ast.Await,
                ast.Match,
            ),
        ):
            return f"{fn.name} uses {type(n).__name__}, which numba's nopython mode does not compile"
        if isinstance(n, ast.Call):
            f = n.func
            q = mod.qual(f, local)
            if q:
                if not (
                    q.startswith("math.") or (q.startswith("numpy.") and not q.startswith("numpy.random"))
                ):
                    return f"{fn.name} calls {ast.unparse(f)}, which numba does not compile"
            elif isinstance(f, ast.Name):
                if f.id in mod.funcs or f.id in mod.classes:
                    return f"{fn.name} calls {f.id}, which numba would have to compile too"
                if f.id not in _NUMBA_BUILTINS:
                    return f"{fn.name} calls {f.id}, which numba does not compile"
    return ""


def _numpy_dtypes(mod: Module, fn: ast.FunctionDef, src: Source) -> None:
    """``np.asarray(x, dtype=float)`` -> ``dtype=np.float64`` in `fn`: numpy reads the two alike, numba
    types only the second."""
    np_name = next((k for k, v in mod.aliases.items() if v == "numpy" and k in mod.modules), None)
    local = bound_names(fn) | param_names(fn)
    if np_name is None or np_name in local:
        return
    for n in ast.walk(fn):
        if isinstance(n, ast.Call) and mod.qual(n.func, local).startswith("numpy."):
            for kw in n.keywords:
                v = kw.value
                if kw.arg == "dtype" and isinstance(v, ast.Name) and v.id in _DTYPES and v.id not in local:
                    src.replace(v, f"{np_name}.{_DTYPES[v.id]}")


def njit_rewrite(
    mod: Module, entry_point: str, hot: dict[int, float] | None, run_s: float | None = None
) -> tuple[Rewrite | None, str]:
    name, _, method = parse_entry_point(entry_point)
    if method:
        fn, _ = mod.target(entry_point)
        if fn is not None and _loop_heavy(fn, hot):
            return None, f"numba compiles functions, and {entry_point} is a method"
        return None, ""
    fn = mod.funcs.get(name)
    if fn is None or not _loop_heavy(fn, hot):
        return None, ""  # no loop-heavy target: nothing for numba to do
    why = _numba_blocker(mod, fn)
    if why:
        return None, why
    if not numba_available():
        return None, "numba is not installed (pip install 'afterburner[numba]')"
    if run_s is not None and run_s < NUMBA_MIN_RUN_S:
        return None, (
            f"the original runs in {run_s:.2f} s: numba's compile time (about a second, measured with it) "
            "would not pay"
        )
    src = Source(mod.code)
    src.insert_line(fn.lineno, f"{src.indent(fn) or ''}@numba.njit")
    with_import(src, mod.tree, "numba")
    _numpy_dtypes(mod, fn, src)
    loops = own_loops(fn)
    span = f"lines {loops[0].lineno}-{max(lp.end_lineno for lp in loops)}"
    why = (
        f"@numba.njit on {name}: its time goes to Python loops ({span}), which numba compiles to machine code"
    )
    return Rewrite("numba_njit", src.result(), why), ""
