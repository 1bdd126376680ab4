"""Edits of a module's source at the positions its syntax tree gives: the rest stays as written
(comments, formatting).
"""

from __future__ import annotations

import ast


class Source:
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


def with_import(src: Source, tree: ast.Module, module: str) -> None:
    have = any(
        isinstance(n, ast.Import) and any(a.name == module and not a.asname for a in n.names)
        for n in tree.body
    )
    if not have:
        at = _import_line(tree)
        after = src.lines[at - 1] if at - 1 < len(src.lines) else ""
        src.insert_line(at, f"import {module}" + ("\n" if after.strip() and at == 1 else ""))
