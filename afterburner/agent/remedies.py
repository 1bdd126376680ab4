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

As a cheap extra signal, ``ruff check --select PERF`` findings on hot lines become remedies too (rule
``ruff``, with ruff's own message), when ruff is installed.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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
)

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


class _Scanner(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[Remedy] = []
        self.loops: list[ast.AST] = []
        self.funcs: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.kinds: list[dict[str, str]] = [{}]  # per function: name -> "set" | "list" | "str" | ...

    def add(self, rule: str, node: ast.AST, **names: str) -> None:
        end = getattr(node, "end_lineno", None) or node.lineno
        self.found.append(Remedy(rule, node.lineno, end, names))

    # scopes -----------------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._check_recursion(node)
        self.funcs.append(node)
        self.kinds.append({})
        saved, self.loops = self.loops, []
        self.generic_visit(node)
        self.loops = saved
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


def scan(code: str) -> list[Remedy]:
    """Every known slow pattern in `code`, hot or not (empty when the code does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    s = _Scanner()
    s.visit(tree)
    return s.found


def find_remedies(
    code: str, hot_lines: Mapping[int, float] | Iterable[dict], limit: int = 3, use_ruff: bool = False
) -> list[Remedy]:
    """The patterns whose span holds a measured hot line, hottest first, one per rule and place.

    `hot_lines` maps line number -> measured share, or is `Profile.lines` (dicts with "line", "share").
    """
    if not isinstance(hot_lines, Mapping):
        hot_lines = {int(h["line"]): float(h.get("share", 0.0)) for h in hot_lines}
    if not hot_lines:
        return []
    out: dict[tuple, Remedy] = {}
    for r in [*scan(code), *(ruff_perf(code) if use_ruff else [])]:
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
    exe = shutil.which("ruff")
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
