"""``functools_cache``: ``@functools.cache`` on a function that calls itself twice or more (or in a loop):
a recursion whose subproblems repeat.

Only when the module shows it pure: no ``global``/``nonlocal``, no change to its arguments or to anything
it did not create, no I/O, clock or randomness, not a generator, not a method, no visibly mutable result
(a caller could change the cached value), and no read of a module-level name the module changes; a nested
function's free variables must not change after its definition. The cache of a module-level function
lives as long as the module.
"""

from __future__ import annotations

import ast

from afterburner.agent.rewrites.aliasing import fresh_locals
from afterburner.agent.rewrites.analysis import Module
from afterburner.agent.rewrites.known import NONMUTATING_METHODS
from afterburner.agent.rewrites.rewrite import Rewrite, Skipped
from afterburner.agent.rewrites.source import Source, with_import
from afterburner.agent.rewrites.syntax import (
    COMPREHENSIONS,
    LOOPS,
    assign_targets,
    bound_names,
    param_names,
    root_name,
    walk_scope,
)

_CACHES = {"cache", "lru_cache", "cached_property"}
_MEMO_PARAMS = {"memo", "cache", "seen", "visited", "dp", "table"}


def _self_calls(fn: ast.FunctionDef) -> tuple[int, bool]:
    """(how many calls of `fn` by name its body makes, whether one sits in a loop or comprehension)."""
    calls = [
        n
        for n in walk_scope(fn)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == fn.name
    ]
    looped = {
        id(c) for lp in walk_scope(fn) if isinstance(lp, (*LOOPS, *COMPREHENSIONS)) for c in ast.walk(lp)
    }
    return len(calls), any(id(c) in looped for c in calls)


def _mutable_result(mod: Module, fn: ast.FunctionDef) -> str:
    """The returned expression when it is visibly a list, dict, set or array ("" otherwise)."""
    local = bound_names(fn) | param_names(fn)
    values: dict[str, list[ast.AST]] = {}
    for n in walk_scope(fn):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name):
                    values.setdefault(t.id, []).append(n.value)
    for n in walk_scope(fn):
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
    local = bound_names(fn) | param_names(fn)
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local


def _cache_blocker(mod: Module, fn: ast.FunctionDef, cls: ast.ClassDef | None, outer: ast.AST | None) -> str:
    """Why `@functools.cache` must not go on `fn` ("" when it may)."""
    if cls is not None and outer is None:
        return f"{fn.name} is a method (its answer may depend on the instance)"
    if fn.decorator_list:
        names = {ast.unparse(d).split("(")[0].split(".")[-1] for d in fn.decorator_list}
        return f"{fn.name} is already cached" if names & _CACHES else f"{fn.name} has a decorator"
    a = fn.args
    if param_names(fn) & _MEMO_PARAMS or any(
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
        outer_local = bound_names(outer) | param_names(outer)
        closure = free & outer_local
        fresh = fresh_locals(mod, outer)
        for n in walk_scope(outer):
            for t in assign_targets(n):
                name = t.id if isinstance(t, ast.Name) else root_name(t)
                if name in closure and (not isinstance(t, ast.Name) or n.lineno > fn.lineno):
                    return f"{fn.name} reads {name}, which {outer.name} changes"
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
                name = root_name(n.func.value)
                if name in closure and n.func.attr not in NONMUTATING_METHODS and name not in fresh - closure:
                    return f"{fn.name} reads {name}, which {outer.name} changes (`{ast.unparse(n.func)}`)"
    return ""


def cache_rewrite(mod: Module, entry_point: str) -> tuple[Rewrite | None, list[Skipped]]:
    src = Source(mod.code)
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
    with_import(src, mod.tree, "functools")
    parts = [f"`{name}` calls itself {'in a loop' if looped else f'{n} times'}" for name, n, looped in cached]
    why = (
        f"@functools.cache on {', '.join(n for n, _, _ in cached)}: {'; '.join(parts)}, so the same "
        "subproblems come back; it changes nothing outside itself, so each answer is computed once "
        "(kept as long as the function lives)"
    )
    return Rewrite("functools_cache", src.result(), why), skipped
