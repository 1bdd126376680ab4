"""Putting back the setup lines a model's rewrite dropped but still relies on.

A small model that rewrites a whole function often keeps its loop and loses the lines before it: the
original's ``xo = np.asarray(x, dtype=float)`` or ``rows = -(-h // block)`` is gone, and the new code
uses ``xo`` or ``rows`` all the same. Such a candidate crashes with a NameError or an UnboundLocalError
on its first input (on the real suite, 14 of the 32 crashing candidates of the first headline records).
`restore_setup` finds the names the candidate's target reads before it binds them (and that the module
and the builtins do not define), looks them up among the original target's setup (its plain assignments
before its first loop or other compound statement, apart from ``if ...: raise`` checks), and puts those
statements, with the setup they need in turn, back at the start of the candidate's body. The result is
judged by the sandbox like any candidate; a name the original's setup does not bind is left alone.
"""

from __future__ import annotations

import ast
import builtins

from afterburner.agent.rewrites.analysis import Module
from afterburner.program import defined_names

__all__ = ["restore_setup"]

_BUILTINS = frozenset(dir(builtins)) | {"__file__", "__name__", "__doc__"}


def restore_setup(code: str, original: str, entry_point: str) -> tuple[str, list[str]]:
    """`code` with the setup statements of `original`'s target that its target reads but no longer
    binds put back at the start of its body, and the names restored; ``(code, [])`` when none apply."""
    try:
        new_mod, old_mod = Module(code), Module(original)
    except (SyntaxError, ValueError, RecursionError):
        return code, []
    new_fn, _ = new_mod.target(entry_point)
    old_fn, _ = old_mod.target(entry_point)
    if new_fn is None or old_fn is None:
        return code, []
    body = _statements(new_fn)
    if not body or body[0].lineno == new_fn.lineno:  # `def f(x): return ...` on one line
        return code, []
    known = _BUILTINS | set(defined_names(new_mod.tree.body, imports=True))  # not a class's attributes
    missing = _read_before_bound(new_fn, body, known)
    setup = _setup(old_fn)
    chosen: dict[int, ast.stmt] = {}
    todo = [n for n in missing if n in setup]
    while todo:
        name = todo.pop()
        stmt = setup[name]
        if id(stmt) in chosen:
            continue
        chosen[id(stmt)] = stmt
        # what that statement reads that the original's earlier setup binds (and no parameter does)
        todo += [n for n in _loads(stmt) if n in setup and setup[n].lineno < stmt.lineno]
    if not chosen:
        return code, []
    restored = sorted(n for n in missing if n in setup)
    lines = code.splitlines(keepends=True)
    at = body[0].lineno - 1
    while at > new_fn.lineno and lines[at - 1].strip().startswith("#"):
        at -= 1  # keep a comment above the first statement (a plan) where it was: insert above it
    indent = " " * body[0].col_offset
    text = "".join(
        _reindent(ast.get_source_segment(original, s) or "", indent, s.col_offset)
        for s in sorted(chosen.values(), key=lambda s: s.lineno)
    )
    out = "".join(lines[:at]) + text + "".join(lines[at:])
    try:
        ast.parse(out)
    except SyntaxError:
        return code, []
    return out, restored


def _statements(fn: ast.FunctionDef) -> list[ast.stmt]:
    """The function's top-level statements without its docstring."""
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    return body


def _params(fn: ast.FunctionDef) -> set[str]:
    a = fn.args
    names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    return set(names)


def _bound(node: ast.AST) -> set[str]:
    """Every name a statement binds anywhere inside it (assignments, loop targets, imports, defs, ...)."""
    out: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            out.add(n.id)
        elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(n.name)
        elif isinstance(n, ast.Import | ast.ImportFrom):
            out.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
        elif isinstance(n, ast.arg):
            out.add(n.arg)  # a lambda's or a nested function's parameters
        elif isinstance(n, ast.Global | ast.Nonlocal):
            out.update(n.names)
    return out


def _loads(node: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]


def _read_before_bound(fn: ast.FunctionDef, body: list[ast.stmt], known: set[str]) -> list[str]:
    """Names the target reads, in the order of its text, before a parameter or an earlier statement binds
    them, that the module and the builtins do not define either: a NameError or UnboundLocalError to come."""
    missing: list[str] = []

    def read(node: ast.AST, bound: set[str]) -> None:
        local = set()  # a comprehension's or a lambda's own variables: bound where they are read
        for n in ast.walk(node):
            if isinstance(n, ast.comprehension | ast.Lambda):
                local |= _bound(n)
        for name in _loads(node):
            if name not in bound and name not in local and name not in known and name not in missing:
                missing.append(name)

    def scan(stmts: list[ast.stmt], bound: set[str]) -> None:
        for stmt in stmts:
            inner = [getattr(stmt, f, []) for f in ("body", "orelse", "finalbody")]
            if isinstance(stmt, ast.If | ast.While):
                read(stmt.test, bound)
            elif isinstance(stmt, ast.For | ast.AsyncFor):
                read(stmt.iter, bound)
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                for item in stmt.items:
                    read(item.context_expr, bound)
            elif isinstance(stmt, ast.Try):
                inner += [h.body for h in stmt.handlers]
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Match):
                inner = []  # another scope (or a match): not followed
            else:
                if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                    read(ast.Name(stmt.target.id, ast.Load()), bound)
                read(stmt, bound)
                inner = []
            if any(inner):
                # the loop's or the header's targets are bound for the body
                head = _bound(stmt) - set().union(*(_bound(s) for b in inner for s in b))
                for block in inner:
                    scan(block, bound | head)
            bound |= _bound(stmt)

    scan(body, _params(fn))
    return missing


def _setup(fn: ast.FunctionDef) -> dict[str, ast.stmt]:
    """name -> the plain assignment that binds it first in the function's setup: its statements before
    the first loop, ``with``, ``try`` or ``if`` (an ``if`` that only raises is a check, and is passed)."""
    out: dict[str, ast.stmt] = {}
    for stmt in _statements(fn):
        if isinstance(stmt, ast.If) and all(isinstance(s, ast.Raise) for s in stmt.body) and not stmt.orelse:
            continue
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            if all(isinstance(t, ast.Name | ast.Tuple) for t in targets):
                for name in names:
                    out.setdefault(name, stmt)
            continue
        if isinstance(stmt, ast.Expr | ast.Assert | ast.Pass):
            continue
        break
    return out


def _reindent(segment: str, indent: str, col: int) -> str:
    """A statement's source (its first line without indentation) at `indent`, its other lines moved by
    the same amount."""
    first, *rest = segment.splitlines()
    moved = [indent + first] + [indent + (ln[col:] if ln[:col].strip() == "" else ln.lstrip()) for ln in rest]
    return "\n".join(moved) + "\n"
