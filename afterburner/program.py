"""When two pieces of code are the same program: what a candidate that only looks new is compared by.

A model that cannot make code faster often returns it unchanged but dressed up: reformatted, with a
``# Plan:`` comment, a docstring, or extra imports (``from typing import *``). None of these change what
the code computes or how fast, so the optimizer calls such a candidate ``unchanged`` (it costs no
sandbox run), the training reward pays it nothing, and the benchmark does not measure it twice. The
one change this misses: an import that rebinds a name the code uses (``from numpy import sum``).
"""

from __future__ import annotations

import ast
import hashlib

__all__ = ["defined_names", "normal_form", "program_hash", "same_program"]


class _Strip(ast.NodeTransformer):
    """Drop docstrings (a string constant as a statement) and the module's top-level imports."""

    def _body(self, body: list[ast.stmt], top: bool = False) -> list[ast.stmt]:
        kept = [
            s
            for s in body
            if not (
                isinstance(s, ast.Expr)
                and isinstance(s.value, ast.Constant)
                and isinstance(s.value.value, str)
            )
            and not (top and isinstance(s, ast.Import | ast.ImportFrom))
        ]
        return kept or [ast.Pass()]

    def visit_Module(self, node: ast.Module) -> ast.AST:
        self.generic_visit(node)
        node.body = self._body(node.body, top=True)
        return node

    def _visit_scope(self, node: ast.AST) -> ast.AST:
        self.generic_visit(node)
        node.body = self._body(node.body)  # type: ignore[attr-defined]
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _visit_scope


def _dump(code: str, strip: bool) -> str:
    """A dump of the code's AST (without what `_Strip` drops, if `strip`); the stripped text when it does
    not parse."""
    try:
        tree = ast.parse(code)
        return ast.dump(_Strip().visit(tree) if strip else tree)
    except (SyntaxError, ValueError, RecursionError):
        return code.strip()


def normal_form(code: str) -> str:
    """The program without formatting, comments, docstrings and top-level imports."""
    return _dump(code, strip=True)


def same_program(a: str | None, b: str | None) -> bool:
    """True when `a` and `b` are both given and differ only in what `normal_form` leaves out.

    >>> same_program("def f(x):\\n    return x+1", "from typing import *\\n\\ndef f(x):  # Plan: none\\n    return x + 1\\n")
    True
    >>> same_program("def f(x):\\n    return x+1", "def f(x):\\n    return 1 + x")
    False
    """
    return bool(a and b) and (a.strip() == b.strip() or normal_form(a) == normal_form(b))


def program_hash(code: str) -> str:
    """A short hash of the code's AST (formatting and comments aside, imports and docstrings kept): equal
    only for code that runs alike, so a cache of check results may use it as its key."""
    return hashlib.sha256(_dump(code, strip=False).encode()).hexdigest()[:16]


def defined_names(body: list[ast.stmt], imports: bool = False) -> dict[str, ast.stmt]:
    """The names a block of statements defines (functions, classes, assignments; with `imports`, the
    names its imports bind), each with the statement that defines it last."""
    names: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    names[t.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif imports and isinstance(node, ast.Import | ast.ImportFrom):
            for a in node.names:
                if a.name != "*":
                    names[(a.asname or a.name).split(".")[0]] = node
    return names
