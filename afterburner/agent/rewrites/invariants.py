"""Which calls in a loop compute the same value on every pass, change nothing, and may be hoisted."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from afterburner.agent.rewrites.aliasing import assigned_pairs, escaped, fresh_locals, possible_values
from afterburner.agent.rewrites.analysis import Module
from afterburner.agent.rewrites.known import MUTATES_FIRST_ARG, NONMUTATING_METHODS, SAFE_BUILTINS
from afterburner.agent.rewrites.syntax import (
    COMPREHENSIONS,
    assign_targets,
    bound_names,
    param_names,
    root_name,
    walk_scope,
)

# of the safe builtins (`known.SAFE_BUILTINS`), the ones whose result depends on their arguments alone and
# that take time to compute (over a whole sequence); hoisting ``len(xs)`` or ``abs(x)`` saves a few tens of
# nanoseconds a pass: noise
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


@dataclass
class _LoopFacts:
    stored: set[str]  # names (re)bound anywhere in the loop
    changed: set[str]  # names whose object the loop may change, or hands on
    fresh: set[str]  # locals of the function that hold objects it made itself
    local: set[str]  # every local of the function
    ok: bool  # every call in the loop changes nothing but fresh objects
    why: str = ""


class Hoister:
    def __init__(self, mod: Module, fn: ast.FunctionDef) -> None:
        self.mod, self.fn = mod, fn
        self.local = bound_names(fn) | param_names(fn)
        # objects the function made and kept to itself (stored nowhere else, returns aside)
        self.fresh = fresh_locals(mod, fn) - escaped(mod, fn, self.local, returns=False)
        self.changed_globals = mod.changed | mod.global_written
        self.sources: dict[str, set[str]] = {}  # name -> the names whose objects it may have been given
        for n in walk_scope(fn):
            if isinstance(n, ast.Assign | ast.AnnAssign):
                for t, value in assigned_pairs(n):
                    if isinstance(t, ast.Name):
                        roots = (
                            {root_name(x) or "?" for x in possible_values(value)}
                            if value is not None
                            else {"?"}
                        )
                        self.sources.setdefault(t.id, set()).update(roots)
            elif isinstance(n, ast.For | ast.comprehension | ast.withitem | ast.NamedExpr):
                src = (
                    getattr(n, "iter", None) or getattr(n, "context_expr", None) or getattr(n, "value", None)
                )
                for t in assign_targets(n):
                    if isinstance(t, ast.Name):
                        self.sources.setdefault(t.id, set()).add(root_name(src) or "?")

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
        for n in walk_scope(loop, into_scopes=True):
            for t in assign_targets(n):
                if isinstance(t, ast.Name):
                    stored.add(t.id)
                else:
                    r = root_name(t)
                    changed.add(r or "?")
            if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
                maybe |= self.aliases(n.target.id)
            if isinstance(n, ast.Global | ast.Nonlocal):
                stored.update(n.names)
            if isinstance(n, ast.Call) and not why:
                f = n.func
                if isinstance(f, ast.Attribute) and not self.mod.qual(f, self.local):
                    if f.attr not in NONMUTATING_METHODS:
                        changed.add(root_name(f.value) or "?")
                    continue
                effect = self.mod._call_effect(n, self.fresh, self.local, frozenset(), param_names(self.fn))
                if effect:
                    why = effect
                q = self.mod.qual(f, self.local)
                if q in MUTATES_FIRST_ARG and n.args:
                    changed.add(root_name(n.args[0]) or "?")
                for kw in n.keywords:
                    if kw.arg == "out":
                        changed.add(root_name(kw.value) or "?")
        unsafe = {a for name in changed for a in self.aliases(name)} - self.fresh
        if not why and unsafe:
            why = f"the loop changes {', '.join(sorted(unsafe))}, which may share data with other names"
        changed |= maybe | escaped(self.mod, loop, self.local)
        return _LoopFacts(stored, changed, self.fresh, self.local, not why, why)

    def invariant(self, e: ast.AST, facts: _LoopFacts) -> bool:
        """`e` computes the same value on every pass of the loop and has no effect."""
        for n in ast.walk(e):
            if isinstance(
                n, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom, *COMPREHENSIONS)
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
        return isinstance(f, ast.Attribute) and f.attr in NONMUTATING_METHODS

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
            return not (isinstance(pp, ast.Call) and pp.func is p and p.attr not in NONMUTATING_METHODS)
        if isinstance(p, ast.keyword):
            p = parents.get(id(p))
        if isinstance(p, ast.List | ast.Tuple) and isinstance(p.ctx, ast.Load):
            p = parents.get(id(p))  # `np.column_stack([E, xs])`: an element of an argument
            if not isinstance(p, ast.Call):
                return False
        if isinstance(p, ast.Call) and p.func is not e:
            return self.hoistable_call(p) or (isinstance(p.func, ast.Name) and p.func.id in SAFE_BUILTINS)
        if isinstance(p, ast.For | ast.comprehension) and p.iter is e:
            return True
        if isinstance(p, ast.Assign) and len(p.targets) == 1 and isinstance(p.targets[0], ast.Name):
            t = p.targets[0].id  # `w = E`: fine while w is only read in the loop
            binds = sum(
                1
                for n in walk_scope(loop, into_scopes=True)
                for x in assign_targets(n)
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
