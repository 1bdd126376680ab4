"""What the rewrites know of a module: its imports and functions, the names it changes, which functions
are pure and which run from the entry point.
"""

from __future__ import annotations

import ast

from afterburner.agent.rewrites.aliasing import fresh_locals
from afterburner.agent.rewrites.known import (
    IMPURE_MODULES,
    IO_BUILTINS,
    MUTATES_FIRST_ARG,
    NONMUTATING_METHODS,
    PURE_ROOTS,
    SAFE_BUILTINS,
)
from afterburner.agent.rewrites.syntax import assign_targets, bound_names, param_names, root_name
from afterburner.task import parse_entry_point


class Module:
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
        self.top_names = {t.id for n in body for t in assign_targets(n) if isinstance(t, ast.Name)}
        self.top_names |= set(self.funcs) | set(self.classes)
        self.global_written = {
            name for n in ast.walk(self.tree) if isinstance(n, ast.Global | ast.Nonlocal) for name in n.names
        }
        self.changed = set(self.global_written)  # module-level names some code of the module changes
        for n in ast.walk(self.tree):
            for t in assign_targets(n):
                if isinstance(t, ast.Attribute | ast.Subscript):
                    self._note_change(root_name(t))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
                if n.func.attr not in NONMUTATING_METHODS and not self.qual(n.func):
                    self._note_change(root_name(n.func.value))
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
        params = param_names(fn)
        local = bound_names(fn) | params
        for n in ast.walk(fn):
            if isinstance(n, ast.Global | ast.Nonlocal):
                return f"it declares {type(n).__name__.lower()} {', '.join(n.names)}"
            if isinstance(n, ast.Yield | ast.YieldFrom | ast.Await):
                return "it is a generator" if not isinstance(n, ast.Await) else "it awaits"
            for t in assign_targets(n):
                if isinstance(t, ast.Attribute | ast.Subscript):
                    root = root_name(t)
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
            if kw.arg == "out" and root_name(kw.value) not in fresh:
                return f"it writes into `{ast.unparse(kw.value)}` (out=)"
        if q:
            root = q.split(".")[0]
            if root in IMPURE_MODULES or any(q == m or q.startswith(m + ".") for m in IMPURE_MODULES):
                return f"it calls {text} (I/O, the clock or randomness)"
            if root not in PURE_ROOTS:
                return f"it calls {text}, which the analysis does not know"
            if q in MUTATES_FIRST_ARG and call.args and root_name(call.args[0]) not in fresh:
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
            if f.id in IO_BUILTINS:
                return f"it calls {f.id}"
            return "" if f.id in SAFE_BUILTINS else f"it calls {f.id}, which the analysis does not know"
        if isinstance(f, ast.Attribute):
            if f.attr in NONMUTATING_METHODS:
                return ""
            root = root_name(f.value)
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
