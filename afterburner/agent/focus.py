"""A focused reply: prefilled with the target up to where its time goes, which it may not begin again.

Asked for a faster version of a whole function, the 0.5B model mostly writes the function again (on the
real suite, 23 of the default strategy's 36 samples in the first headline records were the code
again). A focused reply starts at the hot statement instead: the prefill is the code fence and the
target's source up to the outermost loop around the profile's hottest line of the target (or that
line's statement when no loop holds it), and the reply may not begin that statement as the original
does: not with the loop's keyword, and not with the statement's first line
(`afterburner.llm.avoid`, enforced by backends with ``avoids``). The model writes only the rest of the
function, from the point that has to change, in fewer tokens.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from afterburner.task import parse_entry_point

__all__ = ["Focus", "focus"]

FENCE = "```python\n"
LOOPS = (ast.For, ast.AsyncFor, ast.While)


@dataclass(frozen=True)
class Focus:
    prefill: str  # the fence and the target's source before the statement
    avoid: str  # how the original begins the statement: indentation and the loop keyword, or its line
    line: int  # the statement's line in the module


def focus(code: str, entry_point: str, profile_lines: Any) -> Focus | None:
    """The focused start of a reply on `code`, from the profile's hot lines ({"line", "share"} each);
    None when no hot line lies in the target's body or the code does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    target = _target(tree, entry_point)
    if target is None or not target.body or target.body[0].lineno <= target.lineno:
        return None
    body_start = target.body[0].lineno
    hot = [ln for ln in profile_lines or () if body_start <= ln.get("line", 0) <= (target.end_lineno or 0)]
    if not hot:
        return None
    line = max(hot, key=lambda ln: ln.get("share", 0.0))["line"]
    stmt = _statement(target.body, line)
    if stmt is None:
        return None
    lines = code.splitlines()
    head = _header_start(tree, entry_point, target)
    indent = lines[stmt.lineno - 1][: stmt.col_offset]
    if isinstance(stmt, LOOPS):
        first = lines[stmt.lineno - 1][stmt.col_offset :]
        avoid = indent + first.split(None, 1)[0] + " "  # "for ", "while ", "async "
    else:
        avoid = lines[stmt.lineno - 1].rstrip()
    prefix = "\n".join(lines[head - 1 : stmt.lineno - 1])
    return Focus(prefill=FENCE + prefix + "\n", avoid=avoid, line=stmt.lineno)


def _target(tree: ast.Module, entry_point: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    cls, _, method = parse_entry_point(entry_point)
    scope: list[ast.stmt] = tree.body
    if method:
        owner = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), None)
        if owner is None:
            return None
        scope, cls = owner.body, method
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    return next((n for n in scope if isinstance(n, funcs) and n.name == cls), None)


def _header_start(tree: ast.Module, entry_point: str, target: ast.stmt) -> int:
    """The first line of the reply: the target's first decorator or def, or its class for a method."""
    cls, _, method = parse_entry_point(entry_point)
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), target)
    node = node if method else target
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])


def _statement(body: list[ast.stmt], line: int) -> ast.stmt | None:
    """The outermost loop in `body` around `line`, else the innermost statement that holds it."""
    for stmt in body:
        if not stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
            continue
        if isinstance(stmt, LOOPS):
            return stmt
        inner = [b for f in ("body", "orelse", "finalbody") for b in getattr(stmt, f, [])]
        inner += [b for h in [*getattr(stmt, "handlers", []), *getattr(stmt, "cases", [])] for b in h.body]
        return _statement(inner, line) or stmt
    return None
