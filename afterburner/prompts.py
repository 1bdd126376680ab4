"""Prompt rendering: every prompt is a Jinja2 template in ``prompts/`` (StrictUndefined), none in code.

The templates ship inside the wheel as ``afterburner/prompts/`` (hatch force-include); in an editable
install they are read from the repository's ``prompts/``. This module also builds the conversations the
optimizer sends: the target function (and the code it uses) cut out of its module, so a small model
rewrites that function alone.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from afterburner.errors import ConfigError
from afterburner.program import defined_names
from afterburner.settings import check_goal
from afterburner.task import Task, parse_entry_point

__all__ = [
    "STYLES",
    "PromptStyle",
    "initial_conversation",
    "prompt_style",
    "prompts_dir",
    "refine_conversation",
    "render",
    "render_remedy",
    "reply_start",
    "target_signature",
    "target_source",
]


@dataclass(frozen=True)
class PromptStyle:
    """What a strategy's conversations are made of: its templates (``prompts/NAME.j2``), and whether the
    reply is prefilled with the code fence and the target's signature (`reply_start`)."""

    system_template: str = "system"
    initial_template: str = "optimize"
    refine_template: str = "refine"
    prefill: bool = True


# the prompts of each built-in strategy, by its name (`afterburner.agent.strategies` builds them with these)
_OURS = PromptStyle()
STYLES: dict[str, PromptStyle] = {
    "default": _OURS,
    "afterburner": PromptStyle(
        "afterburner_system", "afterburner_optimize", "afterburner_refine", prefill=False
    ),
    "baseline": _OURS,
}


def prompt_style(strategy: Any = "default") -> PromptStyle:
    """The `PromptStyle` of `strategy`: a `Strategy` (which carries its own, as the loop passes it), a
    `PromptStyle`, or the name of a built-in strategy."""
    if isinstance(strategy, PromptStyle):
        return strategy
    if isinstance(strategy, str):
        try:
            return STYLES[strategy]
        except KeyError:
            raise ConfigError(f"unknown strategy {strategy!r}; choose one of {', '.join(STYLES)}") from None
    return strategy.prompts


def prompts_dir() -> Path:
    """The directory holding the ``*.j2`` templates (installed package first, then the repository)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "prompts", here.parent / "prompts"):
        if candidate.is_dir() and any(candidate.glob("*.j2")):
            return candidate
    raise ConfigError(f"prompt templates not found next to {here} (expected a prompts/ directory)")


@functools.lru_cache(maxsize=1)
def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def render(name: str, **variables: Any) -> str:
    """Render ``prompts/NAME.j2``; a variable the template needs but did not get is an error."""
    import jinja2

    try:
        template = _env().get_template(f"{name}.j2")
    except jinja2.TemplateNotFound:
        raise ConfigError(f"no prompt template {name!r} in {prompts_dir()}") from None
    return template.render(**variables).strip() + "\n"


def render_remedy(remedy: Any, code: str) -> str:
    """The advice for one `Remedy` found in `code`, naming the hot line by its text."""
    lines = code.splitlines()
    at = lines[remedy.line - 1].strip() if 0 < remedy.line <= len(lines) else f"line {remedy.line}"
    return render(
        "remedy",
        rule=remedy.rule,
        line=remedy.line,
        end_line=remedy.end_line,
        at=at,
        names=remedy.names,
        share=f"{100 * remedy.share:.0f}%",
    ).strip()


# ---- the target function and what it uses -------------------------------------------------------------


def _segment(code: str, node: ast.stmt) -> str:
    lines = code.splitlines()
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(lines[start - 1 : node.end_lineno])


def target_source(code: str, entry_point: str) -> tuple[str, str]:
    """(source of the target, source of what it uses): the function, or the class for a method target.

    The context holds the module's imports and the top-level functions, classes and constants the target
    refers to (transitively). When the code does not parse, the whole code is the target.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, ""
    name = parse_entry_point(entry_point)[0]
    defs = defined_names(tree.body)
    target = defs.get(name)
    if target is None:
        return code, ""
    used: list[str] = []
    todo = [target]
    while todo:
        node = todo.pop()
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and n.id in defs and n.id != name and n.id not in used:
                used.append(n.id)
                todo.append(defs[n.id])
    imports = [_segment(code, n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    seen: set[int] = set()
    parts = []
    for n in tree.body:  # keep module order
        if any(defs.get(u) is n for u in used) and id(n) not in seen:
            seen.add(id(n))
            parts.append(_segment(code, n))
    context = "\n".join(imports)
    if parts:
        context = (context + "\n\n" if context else "") + "\n\n".join(parts)
    return _segment(code, target), context


def _header(lines: list[str], node: ast.stmt) -> str:
    """The lines of a def/class header (decorators and the signature), without the body or comments."""
    body = getattr(node, "body", None)
    if not body or body[0].lineno <= node.lineno:  # a one-liner: no separate header line
        return ""
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    head = lines[start - 1 : body[0].lineno - 1]
    while head and (not head[-1].strip() or head[-1].strip().startswith("#")):
        head.pop()
    return "\n".join(head) if head and head[-1].rstrip().endswith(":") else ""


def target_signature(code: str, entry_point: str) -> tuple[str, str]:
    """(header, body indent) of the target in `code`: its decorators and signature (for a method, the
    class line first), and the indentation of its body. ("", "") when the target cannot be found."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "", ""
    cls, _, method = parse_entry_point(entry_point)
    lines = code.splitlines()
    node = defined_names(tree.body).get(cls)
    headers = []
    if method:
        if not isinstance(node, ast.ClassDef):
            return "", ""
        headers.append(_header(lines, node))
        node = next(
            (
                n
                for n in node.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == method
            ),
            None,
        )
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return "", ""
    headers.append(_header(lines, node))
    if not all(headers):
        return "", ""
    return "\n".join(headers), " " * node.body[0].col_offset


def reply_start(task: Task, strategy: Any = "default") -> str:
    """The start of the model's reply, prefilled by backends that can continue an assistant message.

    For strategies with ``prefill``: the code fence, then the target's signature (from the task's own
    code), so that the reply cannot be about anything but the target. "" for
    strategies without it (the paper's layout is left to the model). `strategy`: see `prompt_style`.
    """
    if not prompt_style(strategy).prefill:
        return ""
    signature, indent = target_signature(task.code, task.entry_point) if task.code else ("", "")
    text = render("reply_start", signature=signature, indent=indent)
    return text.rstrip("\n") if signature else text


def _what(entry_point: str) -> str:
    cls, _, method = parse_entry_point(entry_point)
    return f"the whole class `{cls}`, with `{method}`" if method else "the function alone"


def _common(task: Task, code: str, goal: str) -> dict[str, Any]:
    check_goal(goal)
    function_source, context_source = target_source(code, task.entry_point) if code else ("", "")
    return {
        "description": task.description,
        "function_source": function_source,
        "context_source": context_source,
        "function_name": task.function_name,
        "what": _what(task.entry_point),
        "goal": goal,
    }


def initial_conversation(task: Task, strategy: Any = "default", goal: str = "time") -> list[dict]:
    """The first round's conversation (system + user) for `strategy` (see `prompt_style`)."""
    s = prompt_style(strategy)
    return [
        {"role": "system", "content": render(s.system_template)},
        {"role": "user", "content": render(s.initial_template, **_common(task, task.code, goal))},
    ]


def refine_conversation(
    task: Task,
    best_code: str,
    strategy: Any = "default",
    goal: str = "time",
    *,
    best_is_original: bool = False,
    cpu_ratio: float | None = None,
    memory_ratio: float | None = None,
    profile_text: str = "",
    remedies: Sequence[str] = (),
    failures: Sequence[dict] = (),
    history: Sequence[dict] = (),
    feedback: str = "",
) -> list[dict]:
    """A later round's conversation: the best code so far with the measured feedback on it.

    `failures`: dicts with ``status`` and ``detail``; `history`: dicts with ``round``, ``passed``,
    ``total``, ``suggested`` (remedy rule ids), ``accepted``, ``speedup`` (vs the best of that time).
    `feedback` is the one-line feedback of the paper's format (used by the ``afterburner`` strategy).
    """
    s = prompt_style(strategy)
    variables = _common(task, best_code, goal)
    variables.update(
        best_is_original=best_is_original,
        cpu_ratio=cpu_ratio,
        memory_ratio=memory_ratio,
        profile_text=profile_text,
        remedies=list(remedies),
        failures=list(failures),
        history=[{"suggested": [], "speedup": None, "unchanged": 0, **h} for h in history],
        feedback=feedback,
    )
    return [
        {"role": "system", "content": render(s.system_template)},
        {"role": "user", "content": render(s.refine_template, **variables)},
    ]
