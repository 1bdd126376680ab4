"""Mechanical rewrites: candidates no model wrote, checked and measured by the sandbox like any other.

Each rewrite is an analysis of the module's syntax tree that finds where a known transformation is safe,
and an edit of the source at the positions the tree gives: the rest of the module stays as it was
written (comments, formatting). The sandbox then judges the result as it judges a model's candidate (a
wrong answer, a crash or no significant gain is rejected), so an analysis must be safe where it says so,
and may leave to the sandbox what no static analysis can see (an argument that is not hashable, a module
global changed through an alias).

- ``functools_cache``: ``@functools.cache`` on a function that calls itself twice or more (or in a loop):
  a recursion whose subproblems repeat. Only when the module shows it pure: no ``global``/``nonlocal``,
  no change to its arguments or to anything it did not create, no I/O, clock or randomness, not a
  generator, not a method, no visibly mutable result (a caller could change the cached value), and no
  read of a module-level name the module changes; a nested function's free variables must not change
  after its definition. The cache of a module-level function lives as long as the module.
- ``hoist_invariants``: a call of a known pure routine (``math.*``, builtins that walk a whole sequence
  such as ``sum``, ``max``, ``set``, ``sorted``, numpy's and scipy.linalg's array functions, non-mutating
  methods, pure functions of the module) whose inputs do not change in a loop is evaluated once before
  the loop, bound to a new local, instead of on every pass. Only calls on
  the unconditional part of the loop body (not under an ``if``, after a ``continue``, in a short-circuit
  or a comprehension); only in loops whose other calls change nothing but objects the function created;
  a result that may be mutable (an array, a list) only where it is merely read.
  Plain lookups (``self.x``, ``math.sqrt``, globals, ``out.append``) and O(1) builtins (``len``,
  ``abs``) are not hoisted: CPython 3.11 specializes the lookups (measured here: 2-4% faster hoisted;
  ``out.append`` bound to a local is 35% slower than the specialized call), and the rest is noise.
- ``numba_njit``: ``@numba.njit`` on a module-level target whose time goes to Python loops (nested loops,
  or most of the profile inside its loops), which calls only builtins, math and numpy. Needs numba
  (``pip install 'afterburner[numba]'``); skipped with that reason when it is absent. ``dtype=float``
  (and int, bool, complex) in numpy calls becomes ``np.float64`` (numpy reads both alike; numba types
  only the second). The compile time (about a second) is part of the measured run, so it is tried only
  where the original's run takes longer (`NUMBA_MIN_RUN_S`).

With a profile (`afterburner.measurement.Profile` or its dict), hoisting and numba look only at loops
that hold a measured share of the time; without one, at every loop of the target and the functions it
calls. `mechanical_candidates` gives the rewrites that apply; `plan_rewrites` also says why the others
did not.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from afterburner.task import parse_entry_point

log = logging.getLogger(__name__)

__all__ = [
    "REWRITES",
    "Rewrite",
    "Skipped",
    "describe",
    "enabled",
    "mechanical_candidates",
    "plan_rewrites",
    "rewrite_candidates",
]

REWRITES = ("functools_cache", "hoist_invariants", "numba_njit")

HOT_SHARE = 0.05  # a loop whose lines hold less of the profiled time is not worth a rewrite
NUMBA_SHARE = 0.5  # numba: at least this share of the time inside the target's loops
NUMBA_MIN_RUN_S = 1.0  # numba: its compile time (about a second, in the measured run) needs a longer run
MAX_HOISTS = 20


@dataclass(frozen=True)
class Rewrite:
    """A mechanical candidate: `code` is the whole module rewritten, `why` one line for people."""

    name: str
    code: str
    why: str


@dataclass(frozen=True)
class Skipped:
    """A rewrite that found its pattern but is not offered, and why."""

    name: str
    reason: str


# ------------------------------------------------------------------------------------- what is pure

_CACHES = {"cache", "lru_cache", "cached_property"}
_MEMO_PARAMS = {"memo", "cache", "seen", "visited", "dp", "table"}
_IMPURE_MODULES = {
    "random", "time", "os", "sys", "io", "logging", "secrets", "uuid", "datetime", "socket", "subprocess",
    "shutil", "pathlib", "threading", "multiprocessing", "tempfile", "pickle", "builtins", "numpy.random",
    "requests", "urllib", "http", "sqlite3", "asyncio", "signal", "gc", "warnings", "inspect", "importlib",
}  # fmt: skip
_PURE_ROOTS = {
    "math", "cmath", "numpy", "scipy", "statistics", "itertools", "operator", "functools", "string", "re",
    "collections", "fractions", "decimal", "bisect", "heapq", "copy", "json", "unicodedata", "textwrap",
}  # fmt: skip
_MUTATES_FIRST_ARG = {
    "numpy.copyto", "numpy.put", "numpy.place", "numpy.putmask", "numpy.fill_diagonal", "heapq.heappush",
    "heapq.heappop", "heapq.heapify", "heapq.heappushpop", "heapq.heapreplace", "bisect.insort",
    "bisect.insort_left", "bisect.insort_right",
}  # fmt: skip
# builtins that change nothing given to them (some are not deterministic or not worth hoisting)
_SAFE_BUILTINS = {
    "len", "abs", "min", "max", "sum", "round", "int", "float", "bool", "str", "repr", "sorted", "tuple",
    "divmod", "pow", "ord", "chr", "frozenset", "list", "dict", "set", "any", "all", "isinstance",
    "issubclass", "hash", "reversed", "enumerate", "zip", "range", "type", "callable", "hasattr", "format",
    "complex", "bin", "hex", "oct", "map", "filter", "iter", "slice", "bytes", "ValueError", "TypeError",
    "KeyError", "IndexError", "ZeroDivisionError", "RuntimeError", "ArithmeticError", "OverflowError",
}  # fmt: skip
# of those, the ones whose result depends on their arguments alone and that take time to compute (over a
# whole sequence); hoisting ``len(xs)`` or ``abs(x)`` saves a few tens of nanoseconds a pass: noise
_HOIST_BUILTINS = {"min", "max", "sum", "sorted", "tuple", "frozenset", "list", "dict", "set", "any", "all"}
_IMMUTABLE_BUILTINS = {"min", "max", "any", "all", "tuple", "frozenset"}  # or an element of the input
_NUMPY_PURE = {
    "array", "asarray", "sqrt", "exp", "log", "log2", "log10", "log1p", "expm1", "abs", "absolute", "sum",
    "mean", "std", "var", "min", "max", "amin", "amax", "argmin", "argmax", "median", "cumsum", "cumprod",
    "prod", "dot", "matmul", "inner", "outer", "vdot", "transpose", "cov", "corrcoef", "arange", "linspace",
    "zeros", "ones", "full", "eye", "identity", "diag", "sort", "argsort", "unique", "clip", "concatenate",
    "stack", "vstack", "hstack", "column_stack", "dstack", "ravel", "reshape", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
    "arctan2", "sinh", "cosh", "tanh", "hypot", "floor", "ceil", "round", "isnan", "isfinite", "any", "all",
    "count_nonzero", "nonzero", "square", "power", "maximum", "minimum", "diff", "tril", "triu", "trace",
    "kron", "tile", "repeat", "flip", "percentile", "quantile", "nanmean", "nansum", "average", "histogram",
    "bincount", "searchsorted", "convolve", "correlate", "einsum", "where", "full_like", "zeros_like",
    "ones_like", "meshgrid", "radians", "degrees", "sign", "cbrt", "exp2", "ptp", "interp", "polyval",
    "allclose", "isclose", "array_equal", "shape", "ndim", "size", "atleast_1d", "atleast_2d", "float64",
    "int64", "float32", "int32", "asarray_chkfinite", "ascontiguousarray", "copy", "fft.fft", "fft.ifft",
    "fft.rfft", "fft.irfft", "fft.fft2", "fft.rfftfreq", "fft.fftfreq",
}  # fmt: skip
_LINALG_PURE = {
    "inv", "pinv", "det", "slogdet", "norm", "cholesky", "eig", "eigh", "eigvals", "eigvalsh", "svd",
    "solve", "lstsq", "qr", "matrix_power", "matrix_rank", "cond", "lu_factor", "cho_factor", "lu", "expm",
    "sqrtm", "logm", "pinvh", "solve_triangular", "cho_solve", "lu_solve", "svdvals", "schur", "hessenberg",
}  # fmt: skip
_NONMUTATING_METHODS = {
    "copy", "mean", "sum", "std", "var", "min", "max", "prod", "dot", "reshape", "astype", "transpose",
    "ravel", "flatten", "tolist", "conj", "round", "cumsum", "cumprod", "argsort", "argmax", "argmin", "any",
    "all", "nonzero", "count", "index", "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit",
    "splitlines", "join", "replace", "startswith", "endswith", "find", "rfind", "format", "encode",
    "decode", "keys", "values", "items", "get", "isdigit", "isalpha", "isalnum", "isspace", "isupper",
    "islower", "title", "capitalize", "casefold", "partition", "rpartition", "zfill", "center", "ljust",
    "rjust", "diagonal", "trace", "item", "squeeze", "swapaxes", "clip", "searchsorted", "most_common",
    "bit_length", "is_integer", "hex", "union", "intersection", "difference", "symmetric_difference",
    "issubset", "issuperset", "isdisjoint", "removeprefix", "removesuffix", "expandtabs", "translate",
}  # fmt: skip
_IO_BUILTINS = {"print", "open", "input", "exec", "eval", "breakpoint", "compile", "next", "setattr",
                "delattr", "globals", "vars", "locals", "__import__", "exit", "quit", "help", "id"}  # fmt: skip
_FRESH_CALLS = {
    "list", "dict", "set", "tuple", "sorted", "frozenset", "str", "int", "float", "bytearray",
    "collections.deque", "collections.defaultdict", "collections.Counter", "collections.OrderedDict",
    "copy.copy", "copy.deepcopy", "numpy.zeros", "numpy.ones", "numpy.empty", "numpy.full",
    "numpy.zeros_like", "numpy.ones_like", "numpy.empty_like", "numpy.full_like", "numpy.array",
    "numpy.copy", "numpy.arange", "numpy.linspace", "numpy.eye", "numpy.identity",
}  # fmt: skip

_LOOPS = (ast.For, ast.While)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _root(node: ast.AST) -> ast.AST:
    """The expression an attribute/subscript chain starts from: ``a.b[i].c`` -> ``a``."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node


def _root_name(node: ast.AST) -> str | None:
    r = _root(node)
    return r.id if isinstance(r, ast.Name) else None


def _targets(node: ast.AST) -> Iterator[ast.AST]:
    """The assignment targets of a statement, unpacked (``a, b[i] = ...`` -> a, b[i])."""
    stack: list[ast.AST]
    if isinstance(node, ast.Assign):
        stack = list(node.targets)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign | ast.For | ast.AsyncFor | ast.comprehension):
        stack = [node.target]
    elif isinstance(node, ast.Delete):
        stack = list(node.targets)
    elif isinstance(node, ast.withitem):
        stack = [node.optional_vars] if node.optional_vars is not None else []
    elif isinstance(node, ast.NamedExpr):
        stack = [node.target]
    else:
        stack = []
    while stack:
        t = stack.pop()
        if isinstance(t, ast.Tuple | ast.List):
            stack.extend(t.elts)
        elif isinstance(t, ast.Starred):
            stack.append(t.value)
        else:
            yield t


def _walk(node: ast.AST, into_scopes: bool = False) -> Iterator[ast.AST]:
    """`ast.walk` that does not enter nested functions, classes and lambdas (unless `into_scopes`)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(c for c in ast.iter_child_nodes(n) if into_scopes or not isinstance(c, _SCOPES))


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    a = fn.args
    names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    return set(names)


class _Module:
    """What the rewrites need to know about a module: imports, functions, which names it changes."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.tree = ast.parse(code)
        self.lines = code.split("\n")
        self.aliases: dict[str, str] = {}  # local name -> what it imports (np -> numpy)
        self.modules: set[str] = set()  # names bound by `import x` / `import x as y`: modules for sure
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    local = a.asname or a.name.split(".")[0]
                    self.aliases[local] = a.name if a.asname else a.name.split(".")[0]
                    self.modules.add(local)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        body = self.tree.body
        self.funcs = {n.name: n for n in body if isinstance(n, ast.FunctionDef)}
        self.classes = {n.name: n for n in body if isinstance(n, ast.ClassDef)}
        self.defs: dict[str, list[ast.FunctionDef]] = {}  # every function of the module by name, nested too
        for n in ast.walk(self.tree):
            if isinstance(n, ast.FunctionDef):
                self.defs.setdefault(n.name, []).append(n)
        self.top_names = {t.id for n in body for t in _targets(n) if isinstance(t, ast.Name)}
        self.top_names |= set(self.funcs) | set(self.classes)
        self.global_written = {
            name for n in ast.walk(self.tree) if isinstance(n, ast.Global | ast.Nonlocal) for name in n.names
        }
        self.changed = set(self.global_written)  # module-level names some code of the module changes
        for n in ast.walk(self.tree):
            for t in _targets(n):
                if isinstance(t, ast.Attribute | ast.Subscript):
                    self._note_change(_root_name(t))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
                if n.func.attr not in _NONMUTATING_METHODS and not self.qual(n.func):
                    self._note_change(_root_name(n.func.value))
        self._purity: dict[int, str] = {}

    def _note_change(self, name: str | None) -> None:
        if name and name in self.top_names and name not in self.funcs and name not in self.classes:
            self.changed.add(name)

    def qual(self, node: ast.AST, local: set[str] = frozenset()) -> str:
        """The imported thing an expression names (``np.linalg.inv`` -> ``numpy.linalg.inv``), or ""."""
        if isinstance(node, ast.Name):
            return "" if node.id in local else self.aliases.get(node.id, "")
        if isinstance(node, ast.Attribute):
            base = self.qual(node.value, local)
            return f"{base}.{node.attr}" if base else ""
        return ""

    # -- purity ----------------------------------------------------------------------------------------
    def impurity(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, _seen: frozenset = frozenset()) -> str:
        """Why calling `fn` may do more than compute its result from its arguments ("" when pure as far
        as the module shows: reads of module globals are allowed)."""
        key = id(fn)
        if key in self._purity:
            return self._purity[key]
        if key in _seen:
            return ""  # a cycle: judged by the rest of its body
        why = self._impurity(fn, _seen | {key})
        self._purity[key] = why
        return why

    def _impurity(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, seen: frozenset) -> str:
        if isinstance(fn, ast.AsyncFunctionDef):
            return "it is a coroutine"
        fresh = fresh_locals(self, fn)
        params = _params(fn)
        local = _bound_names(fn) | params
        for n in ast.walk(fn):
            if isinstance(n, ast.Global | ast.Nonlocal):
                return f"it declares {type(n).__name__.lower()} {', '.join(n.names)}"
            if isinstance(n, ast.Yield | ast.YieldFrom | ast.Await):
                return "it is a generator" if not isinstance(n, ast.Await) else "it awaits"
            for t in _targets(n):
                if isinstance(t, ast.Attribute | ast.Subscript):
                    root = _root_name(t)
                    if root not in fresh:
                        return f"it changes {root or 'an object'} (`{ast.unparse(t)}`)"
            if isinstance(n, ast.Call):
                why = self._call_effect(n, fresh, local, seen, params)
                if why:
                    return why
        return ""

    def _call_effect(
        self,
        call: ast.Call,
        fresh: set[str],
        local: set[str],
        seen: frozenset,
        params: set[str] = frozenset(),
    ) -> str:
        """Why this call may change something outside `fresh` objects, or touch the world ("" if not)."""
        f = call.func
        q = self.qual(f, local)
        text = ast.unparse(f)
        for kw in call.keywords:
            if kw.arg == "out" and _root_name(kw.value) not in fresh:
                return f"it writes into `{ast.unparse(kw.value)}` (out=)"
        if q:
            root = q.split(".")[0]
            if root in _IMPURE_MODULES or any(q == m or q.startswith(m + ".") for m in _IMPURE_MODULES):
                return f"it calls {text} (I/O, the clock or randomness)"
            if root not in _PURE_ROOTS:
                return f"it calls {text}, which the analysis does not know"
            if q in _MUTATES_FIRST_ARG and call.args and _root_name(call.args[0]) not in fresh:
                return f"it changes {ast.unparse(call.args[0])} with {text}"
            return ""
        if isinstance(f, ast.Name):
            defs = self.defs.get(f.id, [])
            if f.id in local and (f.id in params or not defs):
                return f"it calls {f.id}, a value it was given or made"
            if defs and (f.id in local or f.id not in self.top_names or f.id in self.funcs):
                why = next((w for d in defs if (w := self.impurity(d, seen))), "")
                return f"it calls {f.id}, and {why}" if why else ""
            if f.id in self.classes:
                return f"it creates a {f.id}"
            if f.id in _IO_BUILTINS:
                return f"it calls {f.id}"
            return "" if f.id in _SAFE_BUILTINS else f"it calls {f.id}, which the analysis does not know"
        if isinstance(f, ast.Attribute):
            if f.attr in _NONMUTATING_METHODS:
                return ""
            root = _root_name(f.value)
            if root in fresh:
                return ""
            return f"it calls `{text}`, which may change {root or 'its object'}"
        return f"it calls `{text}`"

    # -- which functions run -----------------------------------------------------------------------------
    def target(self, entry_point: str) -> tuple[ast.FunctionDef | None, ast.ClassDef | None]:
        name, _, method = parse_entry_point(entry_point)
        if method:
            cls = self.classes.get(name)
            if cls is None:
                return None, None
            fn = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == method), None)
            return fn, cls
        fn = self.funcs.get(name)
        return fn, None

    def reachable(self, entry_point: str) -> list[tuple[ast.FunctionDef, ast.ClassDef | None]]:
        """The target and the functions and methods of the module it calls (by name), with nested ones."""
        fn, cls = self.target(entry_point)
        if fn is None:
            return []
        out: list[tuple[ast.FunctionDef, ast.ClassDef | None]] = []
        todo, done = [(fn, cls)], set()
        while todo:
            f, c = todo.pop()
            if id(f) in done:
                continue
            done.add(id(f))
            out.append((f, c))
            for n in ast.walk(f):
                if n is not f and isinstance(n, ast.FunctionDef):
                    todo.append((n, c))
                if not isinstance(n, ast.Call):
                    continue
                if isinstance(n.func, ast.Name) and n.func.id in self.funcs:
                    todo.append((self.funcs[n.func.id], None))
                elif (
                    c is not None
                    and isinstance(n.func, ast.Attribute)
                    and isinstance(n.func.value, ast.Name)
                    and n.func.value.id == "self"
                ):
                    m = next(
                        (x for x in c.body if isinstance(x, ast.FunctionDef) and x.name == n.func.attr), None
                    )
                    if m is not None:
                        todo.append((m, c))
        return out


def _bound_names(fn: ast.AST) -> set[str]:
    """Names a function binds in its own body (assignments, loops, imports, defs; not nested scopes')."""
    out: set[str] = set()
    for n in _walk(fn):
        if n is not fn and isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(n.name)
        for t in _targets(n):
            if isinstance(t, ast.Name):
                out.add(t.id)
        if isinstance(n, ast.Import | ast.ImportFrom):
            out.update((a.asname or a.name).split(".")[0] for a in n.names)
        if isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
    return out


def _is_fresh_value(mod: _Module, value: ast.AST, local: set[str]) -> bool:
    """Whether an expression makes a new object (or an immutable one), never an alias of another."""
    if isinstance(value, (ast.Constant, ast.List, ast.Dict, ast.Set, ast.JoinedStr, *_COMPREHENSIONS)):
        return True
    if isinstance(value, ast.Tuple):
        return all(_is_fresh_value(mod, e, local) for e in value.elts)
    if isinstance(value, ast.BinOp | ast.UnaryOp | ast.Compare | ast.BoolOp):
        return not isinstance(value, ast.BoolOp)  # `a or b` is one of them
    if isinstance(value, ast.Call):
        f = value.func
        if isinstance(f, ast.Name) and f.id not in local and f.id in _FRESH_CALLS:
            return True
        if mod.qual(f, local) in _FRESH_CALLS:
            return True
        return isinstance(f, ast.Attribute) and f.attr == "copy" and not value.args
    return False


def _pairs(n: ast.Assign | ast.AnnAssign) -> Iterator[tuple[ast.AST, ast.AST | None]]:
    """(target, the value it gets) of an assignment; ``a, b = x, []`` pairs element by element, and a
    target whose value is not visible (``a = b = []``, ``a, b = f()``) gets None."""
    targets = n.targets if isinstance(n, ast.Assign) else [n.target]
    if len(targets) != 1:
        yield from ((t, None) for tt in targets for t in _targets(ast.Assign(targets=[tt], value=n.value)))
        return
    t, value = targets[0], n.value
    if isinstance(t, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List):
        if len(t.elts) == len(value.elts) and not any(
            isinstance(e, ast.Starred) for e in (*t.elts, *value.elts)
        ):
            yield from zip(t.elts, value.elts, strict=True)
            return
    if isinstance(t, ast.Tuple | ast.List):
        yield from ((x, None) for x in _targets(ast.Assign(targets=[t], value=value)))
        return
    yield t, value


def fresh_locals(mod: _Module, fn: ast.AST) -> set[str]:
    """Local names of `fn` that only ever hold objects `fn` made itself: changing them changes nothing
    a caller can see (unless they escape, which the callers of this check separately)."""
    params = _params(fn) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) else set()
    local = _bound_names(fn) | params
    good: dict[str, bool] = {}
    for n in _walk(fn):
        if isinstance(n, ast.Assign | ast.AnnAssign):
            for t, value in _pairs(n):
                if isinstance(t, ast.Name):
                    ok = value is not None and _is_fresh_value(mod, value, local)
                    good[t.id] = good.get(t.id, True) and ok
        elif not isinstance(n, ast.AugAssign):  # `+=` changes the name's own object, or makes a new one
            for t in _targets(n):
                if isinstance(t, ast.Name):  # loop targets, `with ... as`, walrus: may alias anything
                    good[t.id] = False
    return {k for k, v in good.items() if v and k not in params}


def _values(value: ast.AST) -> list[ast.AST]:
    """The expressions whose objects an assigned value may be: ``a if c else b`` -> a, b; ``x or y``."""
    if isinstance(value, ast.IfExp):
        return [*_values(value.body), *_values(value.orelse)]
    if isinstance(value, ast.BoolOp):
        return [v for x in value.values for v in _values(x)]
    if isinstance(value, ast.Name | ast.Attribute | ast.Subscript | ast.Starred):
        return [value]
    return []  # a new object (a call's result is judged where the call is)


def _escaped(mod: _Module, loop: ast.AST, local: set[str], returns: bool = True) -> set[str]:
    """Names in `loop` whose object may be stored or handed on (an alias, a container element, an argument
    of a method that may keep it, a return value): changing it later may change what another name holds."""
    out: set[str] = set()
    returned = {id(n.value) for n in _walk(loop) if isinstance(n, ast.Return) and not returns}
    for n in _walk(loop):
        values: list[ast.AST] = []
        if isinstance(n, ast.Assign | ast.AnnAssign | ast.NamedExpr) and n.value is not None:
            values = [n.value]
        elif isinstance(n, ast.List | ast.Tuple) and isinstance(n.ctx, ast.Load) and id(n) not in returned:
            values = list(n.elts)
        elif isinstance(n, ast.Set):
            values = list(n.elts)
        elif isinstance(n, ast.Dict):
            values = [v for v in (*n.keys, *n.values) if v is not None]
        elif isinstance(n, ast.Return | ast.Yield | ast.YieldFrom) and n.value is not None:
            values = [n.value] if returns or not isinstance(n, ast.Return) else []
        elif (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr not in _NONMUTATING_METHODS
            and not mod.qual(n.func, local)
        ):
            values = [*n.args, *(k.value for k in n.keywords)]
        for v in values:
            while isinstance(v, ast.Starred):
                v = v.value
            if isinstance(v, ast.Name):
                out.add(v.id)
            elif isinstance(v, ast.Attribute | ast.Subscript) and isinstance(n, ast.Assign):
                r = _root_name(v)  # `row = grid[i]`: a view or an element that can be changed
                if r:
                    out.add(r)
    return out


# ------------------------------------------------------------------------------------------ edits


class _Source:
    """Edits of the source at syntax-tree positions (columns in UTF-8 bytes, as `ast` gives them)."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.lines = code.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.edits: list[tuple[int, int, str]] = []

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", "replace"))

    def replace(self, node: ast.AST, text: str) -> None:
        a = self.offset(node.lineno, node.col_offset)
        b = self.offset(node.end_lineno, node.end_col_offset)
        self.edits.append((a, b, text))

    def insert_line(self, lineno: int, text: str) -> None:
        """Insert `text` (one or more lines, no final newline) before line `lineno` (1-based)."""
        at = self.starts[lineno - 1] if lineno - 1 < len(self.starts) else len(self.code)
        self.edits.append((at, at, text + "\n"))

    def indent(self, node: ast.stmt) -> str | None:
        head = self.lines[node.lineno - 1][: node.col_offset]
        return head if not head.strip() else None

    def result(self) -> str:
        out = self.code
        for a, b, text in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            out = out[:a] + text + out[b:]
        return out


def _import_line(tree: ast.Module) -> int:
    """The 1-based line before which a new ``import`` goes: after the module's imports, or its docstring."""
    body = tree.body
    imports = [n for n in body if isinstance(n, ast.Import | ast.ImportFrom)]
    if imports:
        return imports[-1].end_lineno + 1
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        return body[0].end_lineno + 1
    return 1


def _with_import(src: _Source, tree: ast.Module, module: str) -> None:
    have = any(
        isinstance(n, ast.Import) and any(a.name == module and not a.asname for a in n.names)
        for n in tree.body
    )
    if not have:
        at = _import_line(tree)
        after = src.lines[at - 1] if at - 1 < len(src.lines) else ""
        src.insert_line(at, f"import {module}" + ("\n" if after.strip() and at == 1 else ""))


# ----------------------------------------------------------------------------------- the profile


def _hot_lines(profile: Any) -> dict[int, float] | None:
    """line -> measured share, from a `Profile` or its dict; None without samples (no profile)."""
    if profile is None:
        return None
    lines = profile.get("lines") if isinstance(profile, dict) else getattr(profile, "lines", None)
    samples = profile.get("samples") if isinstance(profile, dict) else getattr(profile, "samples", 0)
    if not lines or not samples:
        return None
    out: dict[int, float] = {}
    for ln in lines:
        if (
            isinstance(ln, dict)
            and isinstance(ln.get("line"), int)
            and isinstance(ln.get("share"), int | float)
        ):
            out[ln["line"]] = out.get(ln["line"], 0.0) + float(ln["share"])
    return out


# ------------------------------------------------------------------------------- functools_cache


def _self_calls(fn: ast.FunctionDef) -> tuple[int, bool]:
    """(how many calls of `fn` by name its body makes, whether one sits in a loop or comprehension)."""
    calls = [
        n
        for n in _walk(fn)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == fn.name
    ]
    looped = {id(c) for lp in _walk(fn) if isinstance(lp, (*_LOOPS, *_COMPREHENSIONS)) for c in ast.walk(lp)}
    return len(calls), any(id(c) in looped for c in calls)


def _mutable_result(mod: _Module, fn: ast.FunctionDef) -> str:
    """The returned expression when it is visibly a list, dict, set or array ("" otherwise)."""
    local = _bound_names(fn) | _params(fn)
    values: dict[str, list[ast.AST]] = {}
    for n in _walk(fn):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name):
                    values.setdefault(t.id, []).append(n.value)
    for n in _walk(fn):
        if not (isinstance(n, ast.Return) and n.value is not None):
            continue
        exprs = [n.value, *(values.get(n.value.id, []) if isinstance(n.value, ast.Name) else [])]
        for e in exprs:
            if isinstance(e, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
                return ast.unparse(n.value)
            if isinstance(e, ast.Call):
                q = mod.qual(e.func, local) or (e.func.id if isinstance(e.func, ast.Name) else "")
                if (
                    q in {"list", "dict", "set", "sorted", "bytearray"}
                    or q.startswith("numpy.")
                    or (q.startswith("collections."))
                ):
                    return ast.unparse(n.value)
    return ""


def _free_names(fn: ast.FunctionDef) -> set[str]:
    local = _bound_names(fn) | _params(fn)
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local


def _cache_blocker(mod: _Module, fn: ast.FunctionDef, cls: ast.ClassDef | None, outer: ast.AST | None) -> str:
    """Why `@functools.cache` must not go on `fn` ("" when it may)."""
    if cls is not None and outer is None:
        return f"{fn.name} is a method (its answer may depend on the instance)"
    if fn.decorator_list:
        names = {ast.unparse(d).split("(")[0].split(".")[-1] for d in fn.decorator_list}
        return f"{fn.name} is already cached" if names & _CACHES else f"{fn.name} has a decorator"
    a = fn.args
    if _params(fn) & _MEMO_PARAMS or any(
        isinstance(d, ast.List | ast.Dict | ast.Set) for d in (*a.defaults, *a.kw_defaults) if d is not None
    ):
        return f"{fn.name} is memoized by hand"
    why = mod.impurity(fn)
    if why:
        return f"{fn.name} is not pure: {why}"
    result = _mutable_result(mod, fn)
    if result:
        return f"{fn.name} returns a mutable value (`{result}`): a caller could change the cached one"
    free = _free_names(fn)
    changed = sorted(free & mod.changed)
    if changed:
        return f"{fn.name} reads {', '.join(changed)}, which the module changes"
    if outer is not None:  # a nested function: what it reads of the enclosing one must not change
        outer_local = _bound_names(outer) | _params(outer)
        closure = free & outer_local
        fresh = fresh_locals(mod, outer)
        for n in _walk(outer):
            for t in _targets(n):
                name = t.id if isinstance(t, ast.Name) else _root_name(t)
                if name in closure and (not isinstance(t, ast.Name) or n.lineno > fn.lineno):
                    return f"{fn.name} reads {name}, which {outer.name} changes"
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
                name = _root_name(n.func.value)
                if (
                    name in closure
                    and n.func.attr not in _NONMUTATING_METHODS
                    and name not in fresh - closure
                ):
                    return f"{fn.name} reads {name}, which {outer.name} changes (`{ast.unparse(n.func)}`)"
    return ""


def _functools_cache(mod: _Module, entry_point: str) -> tuple[Rewrite | None, list[Skipped]]:
    src = _Source(mod.code)
    cached, skipped = [], []
    outer_of: dict[int, ast.FunctionDef] = {}
    for f, _ in mod.reachable(entry_point):
        for n in ast.walk(f):
            if n is not f and isinstance(n, ast.FunctionDef):
                outer_of.setdefault(id(n), f)
    for fn, cls in mod.reachable(entry_point):
        n_calls, looped = _self_calls(fn)
        if n_calls == 0:
            continue
        if n_calls < 2 and not looped:
            skipped.append(Skipped("functools_cache", f"{fn.name} calls itself once: no subproblem repeats"))
            continue
        outer = outer_of.get(id(fn))
        why = _cache_blocker(mod, fn, cls, outer)
        indent = src.indent(fn)
        if why or indent is None:
            skipped.append(Skipped("functools_cache", why or f"{fn.name}: unusual layout"))
            continue
        src.insert_line(fn.lineno, f"{indent}@functools.cache")
        cached.append((fn.name, n_calls, looped))
    if not cached:
        return None, skipped
    _with_import(src, mod.tree, "functools")
    parts = [f"`{name}` calls itself {'in a loop' if looped else f'{n} times'}" for name, n, looped in cached]
    why = (
        f"@functools.cache on {', '.join(n for n, _, _ in cached)}: {'; '.join(parts)}, so the same "
        "subproblems come back; it changes nothing outside itself, so each answer is computed once "
        "(kept as long as the function lives)"
    )
    return Rewrite("functools_cache", src.result(), why), skipped


# ------------------------------------------------------------------------------- hoist_invariants


@dataclass
class _LoopFacts:
    stored: set[str]  # names (re)bound anywhere in the loop
    changed: set[str]  # names whose object the loop may change, or hands on
    fresh: set[str]  # locals of the function that hold objects it made itself
    local: set[str]  # every local of the function
    ok: bool  # every call in the loop changes nothing but fresh objects
    why: str = ""


class _Hoister:
    def __init__(self, mod: _Module, fn: ast.FunctionDef) -> None:
        self.mod, self.fn = mod, fn
        self.local = _bound_names(fn) | _params(fn)
        # objects the function made and kept to itself (stored nowhere else, returns aside)
        self.fresh = fresh_locals(mod, fn) - _escaped(mod, fn, self.local, returns=False)
        self.changed_globals = mod.changed | mod.global_written
        self.sources: dict[str, set[str]] = {}  # name -> the names whose objects it may have been given
        for n in _walk(fn):
            if isinstance(n, ast.Assign | ast.AnnAssign):
                for t, value in _pairs(n):
                    if isinstance(t, ast.Name):
                        roots = {_root_name(x) or "?" for x in _values(value)} if value is not None else {"?"}
                        self.sources.setdefault(t.id, set()).update(roots)
            elif isinstance(n, ast.For | ast.comprehension | ast.withitem | ast.NamedExpr):
                src = (
                    getattr(n, "iter", None) or getattr(n, "context_expr", None) or getattr(n, "value", None)
                )
                for t in _targets(n):
                    if isinstance(t, ast.Name):
                        self.sources.setdefault(t.id, set()).add(_root_name(src) or "?")

    def aliases(self, name: str) -> set[str]:
        """`name` and every name whose object it may hold (through assignments and loops, transitively)."""
        out, todo = set(), [name]
        while todo:
            n = todo.pop()
            if n not in out:
                out.add(n)
                todo.extend(self.sources.get(n, ()))
        return out

    def facts(self, loop: ast.AST) -> _LoopFacts:
        stored: set[str] = set()
        changed: set[str] = set()  # objects the loop surely changes (a store, a mutating call)
        maybe: set[str] = set()  # `a += b` changes a list or an array in place (a number: no)
        why = ""
        for n in _walk(loop, into_scopes=True):
            for t in _targets(n):
                if isinstance(t, ast.Name):
                    stored.add(t.id)
                else:
                    r = _root_name(t)
                    changed.add(r or "?")
            if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
                maybe |= self.aliases(n.target.id)
            if isinstance(n, ast.Global | ast.Nonlocal):
                stored.update(n.names)
            if isinstance(n, ast.Call) and not why:
                f = n.func
                if isinstance(f, ast.Attribute) and not self.mod.qual(f, self.local):
                    if f.attr not in _NONMUTATING_METHODS:
                        changed.add(_root_name(f.value) or "?")
                    continue
                effect = self.mod._call_effect(n, self.fresh, self.local, frozenset(), _params(self.fn))
                if effect:
                    why = effect
                q = self.mod.qual(f, self.local)
                if q in _MUTATES_FIRST_ARG and n.args:
                    changed.add(_root_name(n.args[0]) or "?")
                for kw in n.keywords:
                    if kw.arg == "out":
                        changed.add(_root_name(kw.value) or "?")
        unsafe = {a for name in changed for a in self.aliases(name)} - self.fresh
        if not why and unsafe:
            why = f"the loop changes {', '.join(sorted(unsafe))}, which may share data with other names"
        changed |= maybe | _escaped(self.mod, loop, self.local)
        return _LoopFacts(stored, changed, self.fresh, self.local, not why, why)

    def invariant(self, e: ast.AST, facts: _LoopFacts) -> bool:
        """`e` computes the same value on every pass of the loop and has no effect."""
        for n in ast.walk(e):
            if isinstance(
                n, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom, *_COMPREHENSIONS)
            ):
                return False
            if isinstance(n, ast.Name):
                if n.id in facts.stored or n.id in facts.changed or n.id in self.changed_globals:
                    return False
                if n.id not in self.local and n.id not in self.mod.top_names and n.id not in self.mod.aliases:
                    if not _is_builtin(n.id):
                        return False
            if isinstance(n, ast.Call) and not self.hoistable_call(n):
                return False
        return True

    def hoistable_call(self, call: ast.Call) -> bool:
        f = call.func
        q = self.mod.qual(f, self.local)
        if q:
            return _pure_qualified(q)
        if isinstance(f, ast.Name):
            if f.id in self.local:
                return False
            if f.id in self.mod.funcs:
                return not self.mod.impurity(self.mod.funcs[f.id])
            return f.id in _HOIST_BUILTINS and _is_builtin(f.id)
        return isinstance(f, ast.Attribute) and f.attr in _NONMUTATING_METHODS

    def immutable_result(self, call: ast.Call) -> bool:
        q = self.mod.qual(call.func, self.local)
        if q:
            return q.startswith("math.") and q.count(".") == 1
        return isinstance(call.func, ast.Name) and call.func.id in _IMMUTABLE_BUILTINS

    def read_only(self, e: ast.Call, parents: dict[int, ast.AST], loop: ast.AST, facts: _LoopFacts) -> bool:
        """A possibly mutable result at `e` is only read there, so one object may serve every pass."""
        p = parents.get(id(e))
        if isinstance(p, ast.BinOp | ast.UnaryOp | ast.Compare):
            return True
        if isinstance(p, ast.Subscript) and p.value is e:
            return isinstance(p.ctx, ast.Load)
        if isinstance(p, ast.Attribute) and p.value is e:
            pp = parents.get(id(p))
            return not (isinstance(pp, ast.Call) and pp.func is p and p.attr not in _NONMUTATING_METHODS)
        if isinstance(p, ast.keyword):
            p = parents.get(id(p))
        if isinstance(p, ast.List | ast.Tuple) and isinstance(p.ctx, ast.Load):
            p = parents.get(id(p))  # `np.column_stack([E, xs])`: an element of an argument
            if not isinstance(p, ast.Call):
                return False
        if isinstance(p, ast.Call) and p.func is not e:
            return self.hoistable_call(p) or (isinstance(p.func, ast.Name) and p.func.id in _SAFE_BUILTINS)
        if isinstance(p, ast.For | ast.comprehension) and p.iter is e:
            return True
        if isinstance(p, ast.Assign) and len(p.targets) == 1 and isinstance(p.targets[0], ast.Name):
            t = p.targets[0].id  # `w = E`: fine while w is only read in the loop
            binds = sum(
                1
                for n in _walk(loop, into_scopes=True)
                for x in _targets(n)
                if isinstance(x, ast.Name) and x.id == t
            )
            return binds == 1 and t not in facts.changed
        return False


def _is_builtin(name: str) -> bool:
    import builtins

    return hasattr(builtins, name)


def _pure_qualified(q: str) -> bool:
    parts = q.split(".")
    if parts[0] == "math" and len(parts) == 2:
        return True
    if parts[0] == "numpy":
        rest = ".".join(parts[1:])
        if rest.startswith("linalg."):
            return rest[len("linalg.") :] in _LINALG_PURE
        return rest in _NUMPY_PURE
    if parts[0] == "scipy" and len(parts) >= 3 and parts[1] == "linalg":
        return parts[-1] in _LINALG_PURE
    if parts[0] == "scipy" and len(parts) >= 3 and parts[1] == "special":
        return True
    return parts[0] == "statistics" and len(parts) == 2


def _unconditional(loop: ast.For | ast.While) -> Iterator[ast.AST]:
    """The expressions the loop evaluates on every pass (an inner loop's too, as long as it runs)."""
    if isinstance(loop, ast.While):
        yield from _expr_parts(loop.test)
    for stmt in loop.body:
        if isinstance(stmt, ast.If):
            yield from _expr_parts(stmt.test)
        elif isinstance(stmt, ast.For):
            yield from _expr_parts(stmt.iter)
            yield from _unconditional(stmt)
        elif isinstance(stmt, ast.While):
            yield from _unconditional(stmt)
        elif isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Expr):
            if getattr(stmt, "value", None) is not None:
                yield from _expr_parts(stmt.value)
            for t in _targets(stmt):
                if isinstance(t, ast.Subscript):
                    yield from _expr_parts(t.slice)
        if _transfers(stmt):
            return  # what follows a conditional break/continue/return/raise may not run


def _transfers(stmt: ast.stmt) -> bool:
    for n in _walk(stmt):
        if isinstance(n, ast.Break | ast.Continue | ast.Return | ast.Raise):
            return True
    return isinstance(stmt, ast.Try | ast.With | ast.Match)


def _expr_parts(e: ast.AST) -> Iterator[ast.AST]:
    """Sub-expressions of `e` always evaluated with it (not a short-circuit's later operands, a
    conditional expression's branches, a comprehension's or a lambda's body)."""
    stack = [e]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, ast.BoolOp):
            stack.append(n.values[0])
        elif isinstance(n, ast.Compare):  # `a < b < c` stops after a false comparison
            stack.extend([n.left, n.comparators[0]])
        elif isinstance(n, ast.IfExp):
            stack.append(n.test)
        elif isinstance(n, _COMPREHENSIONS):
            stack.append(n.generators[0].iter)
        elif isinstance(n, ast.Lambda):
            continue
        else:
            stack.extend(ast.iter_child_nodes(n))


def _loops(fn: ast.FunctionDef) -> list[ast.For | ast.While]:
    """The function's loops, outer ones first (its own: not those of nested functions)."""
    out: list[ast.For | ast.While] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _SCOPES):
                continue
            if isinstance(child, _LOOPS):
                out.append(child)
            visit(child)

    visit(fn)
    return out


def _fresh_name(mod_names: set[str], base: str) -> str:
    base = re.sub(r"\W+", "_", base).strip("_")[:24] or "value"
    name = f"_{base}"
    i = 2
    while name in mod_names:
        name, i = f"_{base}_{i}", i + 1
    return name


def _hoist_once(
    code: str, entry_point: str, hot: dict[int, float] | None, origin: list[int]
) -> tuple[str, list[str]] | None:
    """Hoist the invariant calls of one loop; the new code and what moved, or None when nothing can."""
    mod = _Module(code)
    names = {n.id for n in ast.walk(mod.tree) if isinstance(n, ast.Name)} | mod.top_names | set(mod.aliases)
    for fn, _ in mod.reachable(entry_point):
        h = _Hoister(mod, fn)
        for loop in _loops(fn):
            if hot is not None:
                lines = {origin[i - 1] for i in range(loop.lineno, loop.end_lineno + 1) if i <= len(origin)}
                if sum(hot.get(ln, 0.0) for ln in lines) < HOT_SHARE:
                    continue
            facts = h.facts(loop)
            if not facts.ok:
                continue
            parents = {id(c): p for p in ast.walk(loop) for c in ast.iter_child_nodes(p)}
            found: dict[str, list[ast.Call]] = {}
            for e in _unconditional(loop):
                if not isinstance(e, ast.Call) or not h.hoistable_call(e) or not h.invariant(e, facts):
                    continue
                if any(_contains(other, e) for group in found.values() for other in group):
                    continue  # inside a bigger invariant call already taken
                if not h.immutable_result(e) and not h.read_only(e, parents, loop, facts):
                    continue
                key = ast.dump(e)
                found.setdefault(key, []).append(e)
            if not found:
                continue
            indent = _Source(code).indent(loop)
            if indent is None:
                continue
            src = _Source(code)
            moved = []
            for group in list(found.values())[:1]:  # one per pass: the next pass sees the new code
                e = group[0]
                text = ast.unparse(e)
                tmp = _fresh_name(names, _call_name(e))
                names.add(tmp)
                src.insert_line(loop.lineno, f"{indent}{tmp} = {text}")
                for occ in _occurrences(loop, e):
                    src.replace(occ, tmp)
                moved.append(f"`{text}` (line {origin[e.lineno - 1]})")
            new = src.result()
            try:
                ast.parse(new)
            except SyntaxError:  # pragma: no cover - the edits keep the syntax; be safe anyway
                return None
            origin[loop.lineno - 1 : loop.lineno - 1] = [origin[loop.lineno - 1]]
            return new, moved
    return None


def _call_name(call: ast.Call) -> str:
    """A name for a hoisted call's value: ``np.linalg.norm(w)`` -> ``norm_w``, ``len(self.items)`` ->
    ``len_items``."""

    def last(node: ast.AST) -> str:
        node = node.value if isinstance(node, ast.Subscript) else node
        return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""

    parts = [last(call.func)]
    if call.args:
        parts.append(last(call.args[0]))
    elif isinstance(call.func, ast.Attribute):  # a method: `w.sum()` -> sum_w
        parts.append(last(call.func.value))
    return "_".join(p for p in parts if p)


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(n is inner for n in ast.walk(outer))


def _occurrences(loop: ast.AST, e: ast.AST) -> list[ast.AST]:
    """Where `e` (by structure) appears in the loop, outside nested functions; outermost only."""
    key = ast.dump(e)
    out: list[ast.AST] = []
    stack = [loop]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.expr) and ast.dump(n) == key:
            out.append(n)
            continue
        stack.extend(c for c in ast.iter_child_nodes(n) if not isinstance(c, _SCOPES))
    return out


def _hoist_invariants(mod: _Module, entry_point: str, hot: dict[int, float] | None) -> Rewrite | None:
    code = mod.code
    origin = list(range(1, len(code.split("\n")) + 2))
    moved: list[str] = []
    for _ in range(MAX_HOISTS):
        step = _hoist_once(code, entry_point, hot, origin)
        if step is None:
            break
        code, what = step
        moved += what
    if not moved:
        return None
    shown = ", ".join(moved[:4]) + (f" and {len(moved) - 4} more" if len(moved) > 4 else "")
    why = f"computed once before their loop instead of on every pass (their inputs do not change): {shown}"
    return Rewrite("hoist_invariants", code, why)


# ------------------------------------------------------------------------------------- numba_njit

_NUMBA_BUILTINS = {"range", "len", "abs", "min", "max", "int", "float", "bool", "enumerate", "zip", "round",
                   "sum", "ValueError", "IndexError", "ZeroDivisionError", "RuntimeError"}  # fmt: skip


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


def _loop_heavy(fn: ast.FunctionDef, hot: dict[int, float] | None) -> bool:
    """Most of the measured time inside the function's loops; without a profile, a loop in a loop."""
    loops = _loops(fn)
    if hot is not None:
        share = sum(s for ln, s in hot.items() if any(lp.lineno <= ln <= lp.end_lineno for lp in loops))
        return share >= NUMBA_SHARE
    return any(isinstance(n, _LOOPS) for lp in loops for n in ast.walk(lp) if n is not lp)


def _numba_blocker(mod: _Module, fn: ast.FunctionDef) -> str:
    """Why `@numba.njit` cannot compile `fn` ("" when it may)."""
    if fn.decorator_list:
        return f"{fn.name} has a decorator"
    local = _bound_names(fn) | _params(fn)
    for n in ast.walk(fn):
        if n is not fn and isinstance(
            n,
            (
                *_SCOPES,
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


_DTYPES = {"float": "float64", "int": "int_", "bool": "bool_", "complex": "complex128"}


def _numpy_dtypes(mod: _Module, fn: ast.FunctionDef, src: _Source) -> None:
    """``np.asarray(x, dtype=float)`` -> ``dtype=np.float64`` in `fn`: numpy reads the two alike, numba
    types only the second."""
    np_name = next((k for k, v in mod.aliases.items() if v == "numpy" and k in mod.modules), None)
    local = _bound_names(fn) | _params(fn)
    if np_name is None or np_name in local:
        return
    for n in ast.walk(fn):
        if isinstance(n, ast.Call) and mod.qual(n.func, local).startswith("numpy."):
            for kw in n.keywords:
                v = kw.value
                if kw.arg == "dtype" and isinstance(v, ast.Name) and v.id in _DTYPES and v.id not in local:
                    src.replace(v, f"{np_name}.{_DTYPES[v.id]}")


def _numba_njit(
    mod: _Module, entry_point: str, hot: dict[int, float] | None, run_s: float | None = None
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
    src = _Source(mod.code)
    src.insert_line(fn.lineno, f"{src.indent(fn) or ''}@numba.njit")
    _with_import(src, mod.tree, "numba")
    _numpy_dtypes(mod, fn, src)
    loops = _loops(fn)
    span = f"lines {loops[0].lineno}-{max(lp.end_lineno for lp in loops)}"
    why = (
        f"@numba.njit on {name}: its time goes to Python loops ({span}), which numba compiles to machine code"
    )
    return Rewrite("numba_njit", src.result(), why), ""


# ------------------------------------------------------------------------------------------- API


def plan_rewrites(
    code: str, entry_point: str, profile: Any = None, run_s: float | None = None
) -> tuple[list[Rewrite], list[Skipped]]:
    """The rewrites that apply to `code` (each a whole new module), and those that found their pattern
    but stay out (with the reason). `profile`: the code's measured profile; `run_s`: the CPU time of one
    run of its workload (numba's compile time must have a chance to pay). Code that does not parse, or
    lacks the entry point, gets none."""
    try:
        mod = _Module(code)
    except (SyntaxError, ValueError):
        return [], []
    if mod.target(entry_point)[0] is None:
        return [], []
    hot = _hot_lines(profile)
    found: list[Rewrite] = []
    cache, skipped = _functools_cache(mod, entry_point)
    if cache is not None:
        found.append(cache)
    hoist = _hoist_invariants(mod, entry_point, hot)
    if hoist is not None:
        found.append(hoist)
    jit, why = _numba_njit(mod, entry_point, hot, run_s)
    if jit is not None:
        found.append(jit)
    elif why:
        skipped.append(Skipped("numba_njit", why))
    return [r for r in found if r.code != code], skipped


def mechanical_candidates(
    code: str, entry_point: str, profile: Any = None, run_s: float | None = None
) -> list[Rewrite]:
    """The mechanical rewrites that apply to `code` (see the module's docstring and `plan_rewrites`)."""
    return plan_rewrites(code, entry_point, profile, run_s)[0]


def enabled(strategy: Any, settings: Any) -> bool:
    """Whether a run tries the rewrites: `Settings.rewrites` if set, else the strategy's default."""
    chosen = getattr(settings, "rewrites", None)
    return bool(getattr(strategy, "rewrites", False) if chosen is None else chosen)


def rewrite_candidates(ctx: Any, state: dict, start: int) -> list[dict]:
    """The loop's candidates for the rewrites of the original (`Candidate` dicts with indexes from `start`,
    origin ``rewrite:<name>``, the code ready to check, no completion); [] when the run has them off."""
    code = ctx.task.code
    if not code or not enabled(ctx.strategy, ctx.settings):
        return []
    baseline = state.get("baseline") or {}
    run_s = (baseline.get("cpu_time_s") or {}).get("median")
    found, skipped = plan_rewrites(code, ctx.task.entry_point, baseline.get("profile"), run_s)
    if found or skipped:
        log.info("mechanical rewrites of %s:\n%s", ctx.task.name, describe(found, skipped))
    return [
        {
            "index": start + i,
            "origin": f"rewrite:{r.name}",
            "why": r.why,
            "completion": "",
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "finish_reason": None,
            "fresh": False,
            "extraction": None,
            "code": r.code,
            "check": None,
            "comparison": None,
            "acceptable": False,
        }
        for i, r in enumerate(found)
    ]


def describe(rewrites: Iterable[Rewrite], skipped: Iterable[Skipped]) -> str:
    """One line per rewrite: applies (why) or skipped (reason); for logs and the suite scan."""
    lines = [f"{r.name}: {r.why}" for r in rewrites]
    lines += [f"{s.name} skipped: {s.reason}" for s in skipped]
    return "\n".join(lines)
