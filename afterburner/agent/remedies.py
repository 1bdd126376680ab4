"""Known remedies for slow patterns found on MEASURED hot lines.

A profile summary alone does not move small models; a concrete remedy named in the prompt does. So the
feedback names a remedy only for a pattern that sits on a line the profiler found hot. Detection is a
small rule set over the AST; the advice text itself lives in ``prompts/remedy.j2`` (keyed by rule id).

Rules (id: pattern -> remedy):
- ``membership_in_list``: ``x in seq`` inside a loop, seq not a set/dict -> build a set once
- ``pop_front``: ``seq.pop(0)`` / ``seq.insert(0, x)`` -> ``collections.deque``
- ``str_concat_loop``: ``s += ...`` on a string inside a loop -> collect parts, ``''.join``
- ``recursion_no_memo``: a function calling itself twice or more, or in a loop, no cache -> ``functools.cache``
- ``nested_pairs``: nested loops over the same sequence -> set / dict / ``Counter``, two pointers, a running best
- ``sort_in_loop``: ``sorted``/``min``/``max``/``.sort()`` inside a loop -> once outside, or ``heapq``
- ``index_count_in_loop``: ``seq.index(x)`` / ``seq.count(x)`` inside a loop -> dict / Counter
- ``trial_division``: ``for d in range(2, n)`` testing ``n % d`` -> stop at ``math.isqrt(n)`` / a sieve
- ``range_len_indexing``: ``for i in range(len(xs))`` using ``xs[i]`` -> iterate directly, ``zip``, ``sum``

Library code (numpy / scipy / the standard library; names resolved through the module's imports, so
``np.linalg.eig``, ``from scipy.linalg import eig`` and ``la.eig`` are the same routine):

- ``array_conversion``: ``np.array``/``np.asarray`` of a list inside a loop -> convert once, whole arrays;
  outside a loop only when the profile measured that conversion as the line's callee
- ``array_grow``: ``x = np.append(x, ...)`` / ``np.concatenate`` / ``np.vstack`` in a loop -> a list, one stack
- ``eig_symmetric``: ``eig``/``eigvals`` of a visibly symmetric matrix (``X @ X.T``, ``np.cov``) -> ``eigh``
- ``inv_multiply``: ``inv(A) @ b`` / ``inv(A).dot(b)`` -> ``solve(A, b)``
- ``solve_structure``: ``solve`` of a visibly positive definite matrix -> ``assume_a='pos'`` / ``cho_solve``;
  the same matrix solved in a loop -> ``lu_factor`` once, ``lu_solve`` in the loop
- ``check_finite``: a ``scipy.linalg`` call in a loop without ``check_finite=False`` (or any such call whose
  measured time went to ``asarray_chkfinite``) -> ``check_finite=False``
- ``vectorize_loop``: a Python loop indexing numpy arrays element by element -> whole-array operations
- ``regex_compile``: ``re.compile`` inside a function, or ``re.search(pattern, ...)`` in a loop -> one
  module-level compiled pattern
- ``deepcopy_in_loop``: ``copy.deepcopy`` inside a loop -> copy only what changes, or undo in place

As a cheap extra signal, ``ruff check --select PERF`` findings on hot lines become remedies too (rule
``ruff``, with ruff's own message), when ruff is installed.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RULES", "Remedy", "find_remedies", "ruff_perf", "scan"]

RULES = (
    "membership_in_list",
    "pop_front",
    "str_concat_loop",
    "recursion_no_memo",
    "nested_pairs",
    "sort_in_loop",
    "index_count_in_loop",
    "trial_division",
    "range_len_indexing",
    "array_conversion",
    "array_grow",
    "eig_symmetric",
    "inv_multiply",
    "solve_structure",
    "check_finite",
    "vectorize_loop",
    "regex_compile",
    "deepcopy_in_loop",
)

_CONVERT = {"numpy.array", "numpy.asarray", "numpy.asanyarray", "numpy.ascontiguousarray", "numpy.asfarray"}
_GROW = {
    "numpy.append",
    "numpy.concatenate",
    "numpy.vstack",
    "numpy.hstack",
    "numpy.row_stack",
    "numpy.column_stack",
    "numpy.stack",
    "numpy.dstack",
}
_EIG = {"eig": "eigh", "eigvals": "eigvalsh"}
_SOLVE = {"numpy.linalg.solve", "scipy.linalg.solve"}
_INV = {"numpy.linalg.inv", "scipy.linalg.inv"}
_FINITE = {  # scipy.linalg routines that validate their inputs with check_finite=True by default
    "solve", "solve_triangular", "solve_banded", "solveh_banded", "cho_factor", "cho_solve", "cholesky",
    "lu_factor", "lu_solve", "lu", "inv", "det", "lstsq", "pinv", "pinvh", "eig", "eigh", "eigvals",
    "eigvalsh", "svd", "svdvals", "qr", "schur", "hessenberg", "norm", "eig_banded", "eigh_tridiagonal",
}  # fmt: skip
_RE_CALLS = {"match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer"}
_ARRAY_MAKERS = {
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "array",
    "asarray", "arange", "linspace", "copy", "where", "concatenate", "stack", "vstack", "hstack",
}  # fmt: skip

_LOOPS = (ast.For, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_CACHES = {"cache", "lru_cache", "cached_property"}


@dataclass(frozen=True)
class Remedy:
    """A slow pattern at `line` (span `line`..`end_line`), with the names the advice refers to."""

    rule: str
    line: int
    end_line: int
    names: dict = field(default_factory=dict)
    share: float = 0.0  # measured share of the hottest profiled line inside the span

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "line": self.line,
            "end_line": self.end_line,
            "names": dict(self.names),
            "share": self.share,
        }


def _name(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every parsed node
        return "?"


def _range_args(node: ast.AST) -> list[ast.expr] | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        return list(node.args)
    return None


def _len_of(node: ast.AST) -> str | None:
    """`len(xs)` -> "xs"."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" and node.args:
        return _name(node.args[0])
    return None


def _loop_sequence(loop: ast.For) -> str | None:
    """The sequence a for-loop walks: `for x in xs` / `for i in range(len(xs))` / `range(i+1, len(xs))`."""
    args = _range_args(loop.iter)
    if args is not None:
        return _len_of(args[-1]) if len(args) <= 2 and args else None
    if isinstance(loop.iter, ast.Name | ast.Attribute):
        return _name(loop.iter)
    if (
        isinstance(loop.iter, ast.Call)
        and isinstance(loop.iter.func, ast.Name)
        and loop.iter.func.id == "enumerate"
    ):
        return _name(loop.iter.args[0]) if loop.iter.args else None
    return None


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> what it imports: ``np`` -> ``numpy``, ``eigh`` -> ``scipy.linalg.eigh``."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    out[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _public(qual: str) -> str:
    """``numpy.linalg._linalg.eig`` -> ``numpy.linalg.eig``; ``scipy.linalg._basic.solve`` likewise."""
    return ".".join(p for p in qual.split(".") if not p.startswith("_"))


def _arg(node: ast.Call, i: int = 0, limit: int = 40) -> str:
    text = _name(node.args[i]) if len(node.args) > i else "..."
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kw(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


class _Scanner(ast.NodeVisitor):
    def __init__(self, aliases: dict[str, str] | None = None) -> None:
        self.found: list[Remedy] = []
        self.maybe: list[tuple[Remedy, tuple[str, ...]]] = []  # named only if the profile's callee agrees
        self.loops: list[ast.AST] = []
        self.funcs: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.kinds: list[dict[str, str]] = [{}]  # per function: name -> "set" | "list" | "str" | ...
        self.values: list[dict[str, ast.expr]] = [{}]  # per function: name -> the value last assigned
        self.aliases = aliases or {}
        self.shaped: set[str] = set()  # names whose .shape / .ndim / .dtype / .size is read: arrays

    def add(self, rule: str, node: ast.AST, **names: str) -> None:
        end = getattr(node, "end_lineno", None) or node.lineno
        self.found.append(Remedy(rule, node.lineno, end, names))

    def add_if_measured(self, callees: tuple[str, ...], rule: str, node: ast.AST, **names: str) -> None:
        end = getattr(node, "end_lineno", None) or node.lineno
        self.maybe.append((Remedy(rule, node.lineno, end, names), callees))

    def qual(self, node: ast.AST) -> str:
        """The imported thing an expression names (``np.linalg.eig`` -> ``numpy.linalg.eig``), or ""."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, "")
        if isinstance(node, ast.Attribute):
            base = self.qual(node.value)
            return f"{base}.{node.attr}" if base else ""
        return ""

    def value_of(self, node: ast.AST) -> ast.AST:
        """A name's last assigned value in the enclosing functions (the node itself otherwise)."""
        if isinstance(node, ast.Name):
            for scope in reversed(self.values):
                if node.id in scope:
                    return scope[node.id]
        return node

    def symmetric(self, node: ast.AST, depth: int = 0) -> str:
        """Why `node` is visibly a symmetric matrix ("X @ X.T", "np.cov"), or "" when it is not visible."""
        node = self.value_of(node) if depth < 3 else node
        if isinstance(node, ast.BinOp):
            a, b = _name(node.left), _name(node.right)
            if isinstance(node.op, ast.MatMult | ast.Add | ast.Sub) and (
                b in (f"{a}.T", f"{a}.T.conj()") or a == f"{b}.T"
            ):
                return _name(node)
            if isinstance(node.op, ast.Div | ast.Mult) and depth < 3:
                return self.symmetric(node.left, depth + 1) or self.symmetric(node.right, depth + 1)
            if isinstance(node.op, ast.Add) and depth < 3:  # X.T @ X + lam * I
                return self.symmetric(node.left, depth + 1)
        if isinstance(node, ast.Call):
            q = _public(self.qual(node.func))
            if q in ("numpy.cov", "numpy.corrcoef"):
                return _name(node.func)
            if q in ("numpy.dot", "numpy.matmul") and len(node.args) == 2:
                a, b = _name(node.args[0]), _name(node.args[1])
                if b == f"{a}.T" or a == f"{b}.T":
                    return _name(node)
            if isinstance(node.func, ast.Attribute) and node.func.attr == "dot" and len(node.args) == 1:
                a, b = _name(node.func.value), _name(node.args[0])
                if b == f"{a}.T" or a == f"{b}.T":
                    return _name(node)
        return ""

    def positive_definite(self, node: ast.AST, depth: int = 0) -> str:
        """A Gram matrix (``X.T @ X``, ``X.T @ X + lam * I``) or a covariance: positive (semi)definite."""
        node = self.value_of(node) if depth < 3 else node
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and depth < 3:
            return self.positive_definite(node.left, depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            return self.symmetric(node, 3)
        if isinstance(node, ast.Call):
            return self.symmetric(node, 3)
        return ""

    def is_array(self, node: ast.AST) -> bool:
        """A name visibly holding a numpy array (assigned from a numpy routine), or its element."""
        while isinstance(node, ast.Subscript | ast.Attribute) and not (
            isinstance(node, ast.Attribute) and node.attr in ("T",)
        ):
            node = node.value
        value = self.value_of(node)
        if value is node:
            return isinstance(node, ast.Name) and node.id in self.shaped
        if isinstance(value, ast.Call):
            q = _public(self.qual(value.func))
            return q.startswith("numpy.random.") or (
                q.startswith("numpy.") and q.split(".")[-1] in _ARRAY_MAKERS
            )
        return isinstance(node, ast.Name) and node.id in self.shaped

    # scopes -----------------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._check_recursion(node)
        self.funcs.append(node)
        self.kinds.append({})
        self.values.append({})
        saved, self.loops = self.loops, []
        self.generic_visit(node)
        self.loops = saved
        self.values.pop()
        self.kinds.pop()
        self.funcs.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def _check_recursion(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        decorators = {_name(d).split("(")[0].split(".")[-1] for d in fn.decorator_list}
        if decorators & _CACHES:
            return
        calls = [
            n
            for n in ast.walk(fn)
            if isinstance(n, ast.Call)
            and (
                (isinstance(n.func, ast.Name) and n.func.id == fn.name)
                or (
                    isinstance(n.func, ast.Attribute)
                    and n.func.attr == fn.name
                    and isinstance(n.func.value, ast.Name)
                    and n.func.value.id == "self"
                )
            )
        ]
        in_loop = {id(c) for loop in ast.walk(fn) if isinstance(loop, _LOOPS) for c in ast.walk(loop)}
        if len(calls) >= 2 or any(id(c) in in_loop for c in calls):  # branching: the same calls repeat
            self.add("recursion_no_memo", fn, function=fn.name)

    # what names hold ---------------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        kind = self._kind(node.value)
        for t in node.targets:
            if isinstance(t, ast.Name) and kind:
                self.kinds[-1][t.id] = kind
            if isinstance(t, ast.Name):
                self.values[-1][t.id] = node.value
        self._check_grow(node)
        self.generic_visit(node)

    def _kind(self, value: ast.AST) -> str | None:
        if isinstance(value, ast.List | ast.ListComp):
            return "list"
        if isinstance(value, ast.Set | ast.SetComp | ast.Dict | ast.DictComp):
            return "set"
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return "str"
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            return {
                "list": "list",
                "set": "set",
                "frozenset": "set",
                "dict": "set",
                "Counter": "set",
                "defaultdict": "set",
                "sorted": "list",
                "str": "str",
            }.get(value.func.id)
        return None

    def _kind_of(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            for scope in reversed(self.kinds):
                if node.id in scope:
                    return scope[node.id]
        return self._kind(node)

    # loops -------------------------------------------------------------------------------------------
    def visit_For(self, node: ast.For) -> None:
        seq = _loop_sequence(node)
        outer = [lp for lp in self.loops if isinstance(lp, ast.For)]
        if seq and any(_loop_sequence(lp) == seq for lp in outer):
            self.add("nested_pairs", node, sequence=seq)
        self._check_trial_division(node)
        if not self._check_vectorize(node):
            self._check_range_len(node)
        self.visit(node.iter)
        self.loops.append(node)
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)
        self.loops.pop()

    visit_AsyncFor = visit_For

    def _loop_body(self, node: ast.AST) -> None:
        self.loops.append(node)
        self.generic_visit(node)
        self.loops.pop()

    visit_While = _loop_body
    visit_ListComp = _loop_body
    visit_SetComp = _loop_body
    visit_DictComp = _loop_body
    visit_GeneratorExp = _loop_body

    def _check_trial_division(self, node: ast.For) -> None:
        args = _range_args(node.iter)
        if not args or len(args) < 2 or not isinstance(node.target, ast.Name):
            return
        d, limit = node.target.id, _name(args[1])
        if "isqrt" in limit or "sqrt" in limit or "**" in limit:
            return
        for n in ast.walk(node):
            if (
                isinstance(n, ast.BinOp)
                and isinstance(n.op, ast.Mod)
                and isinstance(n.right, ast.Name)
                and n.right.id == d
            ):
                self.add("trial_division", node, divisor=d, limit=limit)
                return

    def _check_range_len(self, node: ast.For) -> None:
        args = _range_args(node.iter)
        if not args or not isinstance(node.target, ast.Name):
            return
        seq = _len_of(args[-1])
        if seq is None:
            return
        i = node.target.id
        for n in ast.walk(node):
            if (
                isinstance(n, ast.Subscript)
                and _name(n.value) == seq
                and isinstance(n.slice, ast.Name)
                and n.slice.id == i
            ):
                self.add("range_len_indexing", node, index=i, sequence=seq)
                return

    def _check_vectorize(self, node: ast.For) -> bool:
        """A for-loop over indices whose body reads or writes numpy array elements by that index."""
        args = _range_args(node.iter)
        if not args or not isinstance(node.target, ast.Name) or not self.aliases:
            return False
        i = node.target.id
        for n in ast.walk(node):
            if not isinstance(n, ast.Subscript):
                continue
            index = n.slice.elts if isinstance(n.slice, ast.Tuple) else [n.slice]
            uses_i = any(isinstance(x, ast.Name) and x.id == i for e in index for x in ast.walk(e))
            if uses_i and self.is_array(n.value):
                self.add("vectorize_loop", node, index=i, array=_name(n.value))
                return True
        return False

    def _check_grow(self, node: ast.Assign) -> None:
        if not self.loops or not isinstance(node.value, ast.Call) or len(node.targets) != 1:
            return
        target = node.targets[0]
        q = _public(self.qual(node.value.func))
        if isinstance(target, ast.Name) and q in _GROW:
            inside = {n.id for a in node.value.args for n in ast.walk(a) if isinstance(n, ast.Name)}
            if target.id in inside:
                self.add("array_grow", node, variable=target.id, call=_name(node.value.func))

    def _check_library_call(self, node: ast.Call) -> None:
        q = self.qual(node.func)
        pub = _public(q)
        written = _name(node.func)
        if pub in _CONVERT:
            if self.loops:
                self.add("array_conversion", node, call=written, arg=_arg(node), in_loop="yes")
            else:
                self.add_if_measured(("numpy.array", "np.array", "asarray", "array"), "array_conversion",
                                     node, call=written, arg=_arg(node), in_loop="")  # fmt: skip
        leaf = pub.rsplit(".", 1)[-1]
        if pub.startswith(("numpy.linalg.", "scipy.linalg.")) and leaf in _EIG and node.args:
            why = self.symmetric(node.args[0])
            if why:
                self.add("eig_symmetric", node, call=written, matrix=_arg(node), why=why,
                         better=_EIG[leaf], module=pub.rsplit(".", 1)[0])  # fmt: skip
        if pub in _SOLVE and len(node.args) >= 2:
            why = self.positive_definite(node.args[0])
            if why and _kw(node, "assume_a") is None:
                self.add("solve_structure", node, call=written, matrix=_arg(node), why=why, kind="pos")
            elif (
                self.loops
                and isinstance(node.args[0], ast.Name)
                and not self._assigned_in_loop(node.args[0].id)
            ):
                self.add("solve_structure", node, call=written, matrix=_arg(node), why="", kind="loop")
        if pub.startswith("scipy.linalg.") and leaf in _FINITE and _kw(node, "check_finite") is None:
            if self.loops:
                self.add("check_finite", node, call=written)
            else:
                self.add_if_measured(("asarray_chkfinite", "_asarray_validated"), "check_finite", node,
                                     call=written)  # fmt: skip
        if q.startswith("re.") and leaf == "compile" and self.funcs:
            self.add("regex_compile", node, call=written, pattern=_arg(node, 0, 30))
        elif q.startswith("re.") and leaf in _RE_CALLS and self.loops and node.args:
            self.add("regex_compile", node, call=written, pattern=_arg(node, 0, 30))
        if pub == "copy.deepcopy" and self.loops:
            self.add("deepcopy_in_loop", node, call=written, arg=_arg(node))

    def _assigned_in_loop(self, name: str) -> bool:
        for loop in self.loops:
            for n in ast.walk(loop):
                if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store):
                    return True
        return False

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.MatMult) and isinstance(node.left, ast.Call):
            if _public(self.qual(node.left.func)) in _INV and node.left.args:
                self.add("inv_multiply", node, matrix=_arg(node.left), rhs=_name(node.right)[:40])
        self.generic_visit(node)

    # patterns inside loops ---------------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> None:
        if self.loops:
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn) and self._kind_of(right) not in ("set", "str"):
                    if isinstance(right, ast.Tuple | ast.Set | ast.Constant):
                        continue  # a small literal: fine as is
                    if isinstance(right, ast.Call) and _name(right.func) in ("range",):
                        continue
                    self.add("membership_in_list", node, sequence=_name(right))
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if (
            self.loops
            and isinstance(node.op, ast.Add)
            and isinstance(node.target, ast.Name)
            and (
                self._kind_of(node.target) == "str"
                or (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))
            )
        ):
            self.add("str_concat_loop", node, variable=node.target.id)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if self.aliases:
            self._check_library_call(node)
        if isinstance(f, ast.Attribute) and f.attr == "dot" and isinstance(f.value, ast.Call) and node.args:
            if _public(self.qual(f.value.func)) in _INV and f.value.args:  # inv(A).dot(b)
                self.add("inv_multiply", node, matrix=_arg(f.value), rhs=_arg(node))
        elif isinstance(f, ast.Attribute | ast.Name) and _public(self.qual(f)) == "numpy.dot" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Call) and _public(self.qual(first.func)) in _INV and first.args:
                self.add("inv_multiply", node, matrix=_arg(first), rhs=_arg(node, 1))
        if isinstance(f, ast.Attribute):
            first = node.args[0] if node.args else None
            zero = isinstance(first, ast.Constant) and first.value == 0
            if (f.attr == "pop" and zero) or (f.attr == "insert" and zero and len(node.args) == 2):
                self.add("pop_front", node, sequence=_name(f.value), method=f.attr)
            elif self.loops and f.attr in ("index", "count") and len(node.args) == 1:
                if self._kind_of(f.value) != "str":
                    self.add("index_count_in_loop", node, sequence=_name(f.value), method=f.attr)
            elif self.loops and f.attr == "sort" and not node.args:
                self.add("sort_in_loop", node, call=f"{_name(f.value)}.sort()")
        elif isinstance(f, ast.Name) and self.loops and f.id in ("sorted", "min", "max") and node.args:
            arg = node.args[0]
            if not isinstance(arg, ast.Name | ast.Attribute | ast.Call):
                pass  # min(a, b) of two values, a generator over the loop's own items, ...
            elif len(node.args) == 1:
                self.add("sort_in_loop", node, call=f"{f.id}({_name(arg)})")
        self.generic_visit(node)


def _scan(code: str) -> _Scanner | None:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    s = _Scanner(_aliases(tree))
    s.shaped = {
        n.value.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and n.attr in ("shape", "ndim", "dtype")
        and isinstance(n.value, ast.Name)
    }
    s.visit(tree)
    return s


def scan(code: str) -> list[Remedy]:
    """Every known slow pattern in `code`, hot or not (empty when the code does not parse).

    Patterns that matter only when the profile measured them (a conversion outside a loop) are left out:
    `find_remedies` names them when the profile's callee on their line agrees."""
    s = _scan(code)
    return s.found if s else []


MIN_CALLEE_SHARE = 0.05  # a callee-confirmed remedy needs this share of the samples in the matching call


def _measured(r: Remedy, callees: tuple[str, ...], calls: Iterable[dict]) -> float:
    """The share of samples spent, on `r`'s lines, in a call whose callee or library function matches."""
    total = 0.0
    for c in calls:
        if r.line <= int(c.get("line", 0)) <= r.end_line:
            text = f"{c.get('callee', '')} {c.get('inner', '')}"
            if any(k in text for k in callees):
                total += float(c.get("share", 0.0))
    return total


def find_remedies(
    code: str,
    hot_lines: Mapping[int, float] | Iterable[dict],
    limit: int = 3,
    use_ruff: bool = False,
    calls: Iterable[dict] = (),
) -> list[Remedy]:
    """The patterns whose span holds a measured hot line, hottest first, one per rule and place.

    `hot_lines` maps line number -> measured share, or is `Profile.lines` (dicts with "line", "share");
    `calls` is `Profile.calls`: a pattern that matters only when measured (``np.asarray`` outside a loop,
    ``check_finite`` on one scipy call) is named when its line's time went into the matching callee.
    """
    if not isinstance(hot_lines, Mapping):
        hot_lines = {int(h["line"]): float(h.get("share", 0.0)) for h in hot_lines}
    if not hot_lines:
        return []
    s = _scan(code)
    calls = list(calls)
    confirmed = [
        r for r, callees in (s.maybe if s else []) if _measured(r, callees, calls) >= MIN_CALLEE_SHARE
    ]
    out: dict[tuple, Remedy] = {}
    for r in [*(s.found if s else []), *confirmed, *(ruff_perf(code) if use_ruff else [])]:
        shares = [s for ln, s in hot_lines.items() if r.line <= ln <= r.end_line]
        if not shares:
            continue
        key = (r.rule, r.line)
        hot = Remedy(r.rule, r.line, r.end_line, r.names, max(shares))
        if key not in out or out[key].share < hot.share:
            out[key] = hot
    order = {rule: i for i, rule in enumerate((*RULES, "ruff"))}  # our rules before ruff's, on a tie
    ranked = sorted(out.values(), key=lambda r: (-r.share, r.end_line - r.line, order[r.rule]))
    seen_rules: set[str] = set()
    seen_lines: set[int] = set()
    result = []
    for r in ranked:  # one remedy per rule and per line: two pieces of advice on one line only distract
        if (r.rule in seen_rules and r.rule != "ruff") or r.line in seen_lines:
            continue
        seen_rules.add(r.rule)
        seen_lines.add(r.line)
        result.append(r)
    return result[:limit]


def ruff_perf(code: str) -> list[Remedy]:
    """ruff's PERF findings in `code` (rule ``ruff``); empty when ruff is not installed or fails."""
    # the ruff of this interpreter's environment first (a venv that is not activated), then PATH's
    beside = Path(sys.executable).with_name("ruff")
    exe = str(beside) if beside.is_file() else shutil.which("ruff")
    if exe is None:
        return []
    cmd = [
        exe,
        "check",
        "--select",
        "PERF",
        "--output-format",
        "json",
        "--no-cache",
        "--isolated",
        "--exit-zero",
        "--stdin-filename",
        "candidate.py",
        "-",
    ]
    try:
        proc = subprocess.run(cmd, input=code, capture_output=True, text=True, timeout=20)
        found = json.loads(proc.stdout or "[]")
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError):
        return []
    out = []
    for f in found:
        row = int((f.get("location") or {}).get("row") or 0)
        if row:
            out.append(
                Remedy("ruff", row, row, {"code": str(f.get("code")), "message": str(f.get("message"))})
            )
    return out
