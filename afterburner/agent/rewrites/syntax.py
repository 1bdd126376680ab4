"""Walks of a syntax tree the rewrites share: assignment targets, a function's own names and loops."""

from __future__ import annotations

import ast
from collections.abc import Iterator

LOOPS = (ast.For, ast.While)
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _root(node: ast.AST) -> ast.AST:
    """The expression an attribute/subscript chain starts from: ``a.b[i].c`` -> ``a``."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node


def root_name(node: ast.AST) -> str | None:
    r = _root(node)
    return r.id if isinstance(r, ast.Name) else None


def assign_targets(node: ast.AST) -> Iterator[ast.AST]:
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


def walk_scope(node: ast.AST, into_scopes: bool = False) -> Iterator[ast.AST]:
    """`ast.walk` that does not enter nested functions, classes and lambdas (unless `into_scopes`)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(c for c in ast.iter_child_nodes(n) if into_scopes or not isinstance(c, SCOPES))


def param_names(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    a = fn.args
    names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    return set(names)


def bound_names(fn: ast.AST) -> set[str]:
    """Names a function binds in its own body (assignments, loops, imports, defs; not nested scopes')."""
    out: set[str] = set()
    for n in walk_scope(fn):
        if n is not fn and isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(n.name)
        for t in assign_targets(n):
            if isinstance(t, ast.Name):
                out.add(t.id)
        if isinstance(n, ast.Import | ast.ImportFrom):
            out.update((a.asname or a.name).split(".")[0] for a in n.names)
        if isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
    return out


def own_loops(fn: ast.FunctionDef) -> list[ast.For | ast.While]:
    """The function's loops, outer ones first (its own: not those of nested functions)."""
    out: list[ast.For | ast.While] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, SCOPES):
                continue
            if isinstance(child, LOOPS):
                out.append(child)
            visit(child)

    visit(fn)
    return out
