"""Take the code out of a completion, and put a function-only answer back into its module.

`extract_code` understands fenced blocks (```python, ```py, bare ```), the Afterburner paper's layout
(``<thinking>...</thinking>`` then ``<solution>```python ...```</solution>``), an unterminated final
fence (the model ran out of tokens; used only if it parses), and a bare completion that is all code.
It picks the block that defines the entry point (the last complete one when several do) and never
raises on a bad completion: it returns ``Extraction(ok=False, reason=...)``, a format error. A reply
that continues a prefilled start (the fence and the target's signature, `afterburner.prompts.reply_start`)
is read as that start followed by the reply (``prefill=``).

`merge_into_module` replaces the entry point's definition in the original source with the new one and
adds the new imports and helpers, leaving the rest of the module untouched.

`code_from_reply` does both, the way the optimizer and the training rewards read a reply: extract, merge
into the module the reply was asked to change, and say whether the result is that module again
(`afterburner.program.same_program`).
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from afterburner.program import defined_names, same_program
from afterburner.task import parse_entry_point

__all__ = ["Extraction", "ReplyCode", "code_from_reply", "extract_code", "merge_into_module"]

_PY_LANGS = {"", "python", "py", "python3", "py3", "python3.11", "ipython"}
_FENCE_RE = re.compile(
    r"(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+.#-]*)[^\n`]*\n(?P<body>.*?)(?:(?P<close>(?P=fence))|\Z)",
    re.S,
)
_SOLUTION_RE = re.compile(r"<solution>(?P<body>.*?)(?:(?P<close></solution>)|\Z)", re.S | re.I)
_THINKING_RE = re.compile(r"<(?P<tag>thinking|think)>(?P<body>.*?)(?:</(?P=tag)>|\Z)", re.S | re.I)


@dataclass(frozen=True)
class Extraction:
    """The code found in a completion; ``ok=False`` (with `reason`) is a format error, not an exception."""

    ok: bool
    code: str = ""
    reason: str = ""
    thinking: str = ""  # the <thinking>/<think> text, if any
    source: str = ""  # where the code came from: "solution", "fence", "unterminated", "bare"


@dataclass(frozen=True)
class _Block:
    code: str
    complete: bool
    source: str


def extract_code(text: str, entry_point: str | None = None, prefill: str = "") -> Extraction:
    """The code in `text` that defines `entry_point` (``f``, ``C.m`` or ``C().m``; None: any code).

    `prefill`: the start of the reply that the model was given and continued (not part of `text`); the
    reply is read as `prefill` + `text` first, then (a backend that ignored the prefill) as `text` alone.
    """
    text = text or ""
    if prefill and not text.startswith(prefill):
        joined = extract_code(prefill + text, entry_point)
        if joined.ok:
            return joined
        alone = extract_code(text, entry_point)
        return alone if alone.ok else joined
    thinking = "\n\n".join(m.group("body").strip() for m in _THINKING_RE.finditer(text))
    if not text.strip():
        return Extraction(False, reason="empty completion", thinking=thinking)
    outside = _THINKING_RE.sub("\n", text)
    tiers = [
        _solution_blocks(text),
        _fenced_blocks(outside),
        [b for m in _THINKING_RE.finditer(text) for b in _fenced_blocks(m.group("body"))],
    ]
    if not any(tiers) and "```" not in outside and "<solution>" not in text.lower():
        tiers.append([_Block(outside.strip(), True, "bare")] if _parses(outside.strip()) else [])
    seen_blocks = [b for tier in tiers for b in tier if b.code.strip()]
    for tier in tiers:
        chosen = _choose(tier, entry_point)
        if chosen is not None:
            return Extraction(True, chosen.code, thinking=thinking, source=chosen.source)
    return Extraction(False, reason=_why_not(seen_blocks, entry_point), thinking=thinking)


def _solution_blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    for m in _SOLUTION_RE.finditer(text):
        body, closed = m.group("body"), bool(m.group("close"))
        fenced = _fenced_blocks(body)
        blocks += [_Block(b.code, b.complete and closed, "solution") for b in fenced]
        head = re.split(r"^```", body, maxsplit=1, flags=re.M)[0]  # unfenced code up to a stray fence
        if head.strip() and (not fenced or _parses(head)):
            blocks.append(_Block(head.strip("\n"), closed, "solution"))
    return blocks


def _fenced_blocks(text: str) -> list[_Block]:
    blocks = []
    for m in _FENCE_RE.finditer(text):
        if m.group("lang").lower() not in _PY_LANGS:
            continue
        complete = m.group("close") is not None
        blocks.append(
            _Block(m.group("body").rstrip() + "\n", complete, "fence" if complete else "unterminated")
        )
    return blocks


def _choose(blocks: list[_Block], entry_point: str | None) -> _Block | None:
    """The last complete block that parses and defines the entry point; else the last such fragment."""
    parsing = [b for b in blocks if _parses(b.code)]
    for level in (2, 1):  # 2: defines the entry point itself; 1: only the method as a bare function
        good = [b for b in parsing if _defines(b.code, entry_point) >= level]
        complete = [b for b in good if b.complete]
        if complete or good:
            return (complete or good)[-1]
    return None


def _parses(code: str) -> bool:
    if not code.strip():
        return False
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _defines(code: str, entry_point: str | None) -> int:
    """2 if `code` defines the entry point, 1 if only its method as a top-level function, else 0."""
    tree = ast.parse(code)
    if entry_point is None:
        return 2
    name, _, method = parse_entry_point(entry_point)
    top = defined_names(tree.body)
    if method is None:
        return 2 if name in top else 0
    node = top.get(name)
    if isinstance(node, ast.ClassDef) and method in defined_names(node.body):
        return 2
    return 1 if isinstance(top.get(method), ast.FunctionDef | ast.AsyncFunctionDef) else 0


def _why_not(blocks: list[_Block], entry_point: str | None) -> str:
    if not blocks:
        return "no code block in the completion"
    errors = [e for e in map(_parse_error, blocks) if e]
    if len(errors) == len(blocks):
        truncated = " (the completion was cut off)" if not blocks[-1].complete else ""
        return f"no code block parses{truncated}: {errors[-1]}"
    return f"no code block defines {entry_point}"


def _parse_error(block: _Block) -> str:
    try:
        ast.parse(block.code)
    except SyntaxError as e:
        return f"{e.msg} (line {e.lineno})"
    except ValueError as e:
        return str(e)
    return ""


# ---------------------------------------------------------------- merging back into the module


@dataclass(frozen=True)
class ReplyCode:
    """The code of a reply, put back into its module (`code_from_reply`)."""

    extraction: Extraction
    code: str = ""  # the module with the reply's code merged in; the reply's code alone when there is no
    # module or it could not be merged (`merge_error`); "" when no code was extracted
    merge_error: str = ""  # why the reply's code could not be merged into the module
    restored: tuple[str, ...] = ()  # what `repair` put back (the names it reported)
    unchanged: bool = (
        False  # `code` is the module again (`same_program`: formatting, comments, imports aside)
    )


def code_from_reply(
    text: str,
    module: str | None,
    entry_point: str,
    repair: Callable[[str, str, str], tuple[str, list[str]]] | None = None,
) -> ReplyCode:
    """Extract the code of reply `text`, merge it into `module` (when given), and compare the two.

    `repair(code, module, entry_point) -> (code, names)` may fix the merged module before it is compared
    (the optimizer's `afterburner.agent.repair.restore_setup`); it is not run on code that was not merged.
    """
    extraction = extract_code(text, entry_point)
    if not extraction.ok:
        return ReplyCode(extraction)
    if not module:
        return ReplyCode(extraction, extraction.code)
    try:
        code = merge_into_module(module, extraction.code, entry_point)
    except (SyntaxError, ValueError) as e:
        return ReplyCode(
            extraction, extraction.code, merge_error=str(e), unchanged=same_program(extraction.code, module)
        )
    restored: list[str] = []
    if repair is not None and code:
        code, restored = repair(code, module, entry_point)
    return ReplyCode(extraction, code, restored=tuple(restored), unchanged=same_program(code, module))


def merge_into_module(original_source: str, new_code: str, entry_point: str) -> str:
    """`original_source` with the definitions in `new_code` put in place of the old ones.

    Top-level functions, classes and assignments of `new_code` replace the original's of the same
    name; a class that drops some of the original's methods is merged method by method; a bare
    ``def method`` for a ``Class.method`` entry point replaces that method. New imports go after the
    original's imports, new helpers just before the entry point. Anything else in `new_code` (demo
    calls, ``if __name__ == "__main__":``) is dropped. `new_code` must parse (`extract_code` ensures it).
    """
    new_tree = ast.parse(new_code)
    orig_tree = ast.parse(original_source)
    orig_lines = original_source.splitlines(keepends=True)
    if orig_lines and not orig_lines[-1].endswith("\n"):
        orig_lines[-1] += "\n"
    new_lines = new_code.splitlines(keepends=True)
    name, _, method = parse_entry_point(entry_point)
    orig_top = defined_names(orig_tree.body)
    existing_imports = {ast.unparse(n) for n in orig_tree.body if isinstance(n, ast.Import | ast.ImportFrom)}

    edits: list[tuple[int, int, list[str]]] = []  # (start, end) 0-based half-open line ranges
    imports: list[str] = []
    future: list[str] = []
    helpers: list[str] = []
    for node in new_tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if ast.unparse(node) not in existing_imports:
                target = (
                    future if isinstance(node, ast.ImportFrom) and node.module == "__future__" else imports
                )
                target.append(_segment(new_lines, node))
            continue
        names = list(defined_names([node]))
        if not names:
            continue  # expressions, demo code, `if __name__ == "__main__":`
        old = orig_top.get(names[0])
        if old is None:
            if method and names[0] == method and isinstance(orig_top.get(name), ast.ClassDef):
                edits += _replace_members(orig_lines, orig_top[name], new_lines, [node])
            else:
                helpers.append(_segment(new_lines, node))
        elif isinstance(node, ast.ClassDef) and isinstance(old, ast.ClassDef):
            new_members = set(defined_names(node.body))
            old_methods = {n for n, v in defined_names(old.body).items() if isinstance(v, ast.FunctionDef)}
            if old_methods <= new_members:
                edits.append((_start(old), old.end_lineno, [_segment(new_lines, node)]))
            else:
                members = [m for m in node.body if defined_names([m])]
                edits += _replace_members(orig_lines, old, new_lines, members)
        else:
            edits.append((_start(old), old.end_lineno, [_segment(new_lines, node)]))

    target_node = orig_top.get(name)
    if helpers:
        at = _start(target_node) if target_node is not None else len(orig_lines)
        edits.append((at, at, [h + "\n" for h in helpers]))
    if imports or future:
        import_nodes = [n for n in orig_tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        at = import_nodes[-1].end_lineno if import_nodes else _after_docstring(orig_tree)
        edits.append((at, at, imports))
        if future:
            at = _after_docstring(orig_tree)
            edits.append((at, at, future))

    out = list(orig_lines)
    for start, end, lines in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out[start:end] = [ln if ln.endswith("\n") else ln + "\n" for ln in lines]
    return "".join(out)


def _replace_members(
    orig_lines: list[str], cls: ast.ClassDef, new_lines: list[str], members: list[ast.stmt]
) -> list[tuple[int, int, list[str]]]:
    """Edits that put `members` (from the new code) into the original class `cls`."""
    indent = " " * (cls.body[0].col_offset if cls.body else cls.col_offset + 4)
    old = defined_names(cls.body)
    edits = []
    for member in members:
        text = textwrap.indent(textwrap.dedent(_segment(new_lines, member)), indent)
        target = old.get(next(iter(defined_names([member]))))
        if target is not None:
            edits.append((_start(target), target.end_lineno, [text]))
        else:
            edits.append((cls.end_lineno, cls.end_lineno, ["\n", text]))
    return edits


def _start(node: ast.stmt) -> int:
    """0-based first line of `node`, including its decorators."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)]) - 1


def _segment(lines: list[str], node: ast.stmt) -> str:
    text = "".join(lines[_start(node) : node.end_lineno])
    return text if text.endswith("\n") else text + "\n"


def _after_docstring(tree: ast.Module) -> int:
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        if isinstance(body[0].value.value, str):
            return body[0].end_lineno
    return 0
