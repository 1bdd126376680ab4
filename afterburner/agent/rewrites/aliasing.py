"""Which objects a function made itself, and which names may share an object (escape and alias analysis)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING

from afterburner.agent.rewrites.known import NONMUTATING_METHODS
from afterburner.agent.rewrites.syntax import (
    COMPREHENSIONS,
    assign_targets,
    bound_names,
    param_names,
    root_name,
    walk_scope,
)

if TYPE_CHECKING:
    from afterburner.agent.rewrites.analysis import Module

_FRESH_CALLS = {
    "list", "dict", "set", "tuple", "sorted", "frozenset", "str", "int", "float", "bytearray",
    "collections.deque", "collections.defaultdict", "collections.Counter", "collections.OrderedDict",
    "copy.copy", "copy.deepcopy", "numpy.zeros", "numpy.ones", "numpy.empty", "numpy.full",
    "numpy.zeros_like", "numpy.ones_like", "numpy.empty_like", "numpy.full_like", "numpy.array",
    "numpy.copy", "numpy.arange", "numpy.linspace", "numpy.eye", "numpy.identity",
}  # fmt: skip


def _is_fresh_value(mod: Module, value: ast.AST, local: set[str]) -> bool:
    """Whether an expression makes a new object (or an immutable one), never an alias of another."""
    if isinstance(value, (ast.Constant, ast.List, ast.Dict, ast.Set, ast.JoinedStr, *COMPREHENSIONS)):
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


def assigned_pairs(n: ast.Assign | ast.AnnAssign) -> Iterator[tuple[ast.AST, ast.AST | None]]:
    """(target, the value it gets) of an assignment; ``a, b = x, []`` pairs element by element, and a
    target whose value is not visible (``a = b = []``, ``a, b = f()``) gets None."""
    targets = n.targets if isinstance(n, ast.Assign) else [n.target]
    if len(targets) != 1:
        yield from (
            (t, None) for tt in targets for t in assign_targets(ast.Assign(targets=[tt], value=n.value))
        )
        return
    t, value = targets[0], n.value
    if isinstance(t, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List):
        if len(t.elts) == len(value.elts) and not any(
            isinstance(e, ast.Starred) for e in (*t.elts, *value.elts)
        ):
            yield from zip(t.elts, value.elts, strict=True)
            return
    if isinstance(t, ast.Tuple | ast.List):
        yield from ((x, None) for x in assign_targets(ast.Assign(targets=[t], value=value)))
        return
    yield t, value


def fresh_locals(mod: Module, fn: ast.AST) -> set[str]:
    """Local names of `fn` that only ever hold objects `fn` made itself: changing them changes nothing
    a caller can see (unless they escape, which the callers of this check separately)."""
    params = param_names(fn) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) else set()
    local = bound_names(fn) | params
    good: dict[str, bool] = {}
    for n in walk_scope(fn):
        if isinstance(n, ast.Assign | ast.AnnAssign):
            for t, value in assigned_pairs(n):
                if isinstance(t, ast.Name):
                    ok = value is not None and _is_fresh_value(mod, value, local)
                    good[t.id] = good.get(t.id, True) and ok
        elif not isinstance(n, ast.AugAssign):  # `+=` changes the name's own object, or makes a new one
            for t in assign_targets(n):
                if isinstance(t, ast.Name):  # loop targets, `with ... as`, walrus: may alias anything
                    good[t.id] = False
    return {k for k, v in good.items() if v and k not in params}


def possible_values(value: ast.AST) -> list[ast.AST]:
    """The expressions whose objects an assigned value may be: ``a if c else b`` -> a, b; ``x or y``."""
    if isinstance(value, ast.IfExp):
        return [*possible_values(value.body), *possible_values(value.orelse)]
    if isinstance(value, ast.BoolOp):
        return [v for x in value.values for v in possible_values(x)]
    if isinstance(value, ast.Name | ast.Attribute | ast.Subscript | ast.Starred):
        return [value]
    return []  # a new object (a call's result is judged where the call is)


def escaped(mod: Module, loop: ast.AST, local: set[str], returns: bool = True) -> set[str]:
    """Names in `loop` whose object may be stored or handed on (an alias, a container element, an argument
    of a method that may keep it, a return value): changing it later may change what another name holds."""
    out: set[str] = set()
    returned = {id(n.value) for n in walk_scope(loop) if isinstance(n, ast.Return) and not returns}
    for n in walk_scope(loop):
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
            and n.func.attr not in NONMUTATING_METHODS
            and not mod.qual(n.func, local)
        ):
            values = [*n.args, *(k.value for k in n.keywords)]
        for v in values:
            while isinstance(v, ast.Starred):
                v = v.value
            if isinstance(v, ast.Name):
                out.add(v.id)
            elif isinstance(v, ast.Attribute | ast.Subscript) and isinstance(n, ast.Assign):
                r = root_name(v)  # `row = grid[i]`: a view or an element that can be changed
                if r:
                    out.add(r)
    return out
