"""A task's known faster version (``Task.reference``), reduced to the reply the model must write.

The optimizer asks for the target alone and merges the reply into the starting module
(`afterburner.llm.merge_into_module`): definitions replace the ones of the same name, new helpers go
before the target, new imports after the module's imports. So the reply that turns the start into the
reference needs only the target, the helpers and constants it uses (transitively, in the reference)
that the start lacks or defines differently, and the imports they need that the start does not have.
The target comes first, as the optimizer's prefilled reply starts with its signature
(`afterburner.prompts.reply_start`); then the imports; then the helpers in the reference's order. For a
method target the target is its class: the header, the method first (the prefill is the class line and
the method's signature), then the class's other members that differ from the start's.
"""

from __future__ import annotations

import ast

from afterburner.program import defined_names, same_program
from afterburner.task import Task, parse_entry_point

__all__ = ["reference_reply_code"]


def _segment(lines: list[str], node: ast.stmt) -> str:
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(lines[start - 1 : node.end_lineno])


def _names(nodes: list[ast.stmt]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def _uses(target: ast.stmt, defs: dict[str, ast.stmt]) -> list[ast.stmt]:
    """The top-level definitions `target` refers to, directly or through each other."""
    found: dict[int, ast.stmt] = {id(target): target}
    todo = [target]
    while todo:
        for name in _names([todo.pop()]):
            node = defs.get(name)
            if node is not None and id(node) not in found:
                found[id(node)] = node
                todo.append(node)
    return [n for n in found.values() if n is not target]


def _header(lines: list[str], cls: ast.ClassDef) -> str:
    """The class's decorators and ``class ...:`` line(s), without its body."""
    head = lines[min([cls.lineno, *(d.lineno for d in cls.decorator_list)]) - 1 : cls.body[0].lineno - 1]
    while head and (not head[-1].strip() or head[-1].strip().startswith("#")):
        head.pop()
    return "\n".join(head)


def _class_reply(lines: list[str], cls: ast.ClassDef, method: str, start_cls: ast.stmt | None) -> str:
    """`cls` with `method` first and then the members that differ from `start_cls` (all of them when the
    header differs: the merge keeps the start's header unless the reply's class has every method)."""
    members = defined_names(cls.body)
    first = members.get(method)
    if first is None or cls.body[0].lineno <= cls.lineno:
        return _segment(lines, cls)
    same_header = isinstance(start_cls, ast.ClassDef) and all(
        [ast.dump(x) for x in getattr(cls, f)] == [ast.dump(x) for x in getattr(start_cls, f)]
        for f in ("bases", "keywords", "decorator_list")
    )
    old = {n: ast.dump(v) for n, v in defined_names(start_cls.body).items()} if same_header else {}
    kept = {id(v) for n, v in members.items() if old.get(n) != ast.dump(v)}
    rest = [m for m in cls.body if m is not first and id(m) in kept]
    return "\n\n".join(
        [_header(lines, cls) + "\n" + _segment(lines, first), *(_segment(lines, m) for m in rest)]
    )


def reference_reply_code(task: Task) -> str | None:
    """The code of a reply that, merged into ``task.code``, gives the reference's target and everything
    it uses; None when the task has no starting code, no reference, the same program twice, or a
    reference that does not parse or lacks the target.

    >>> t = Task(name="t", entry_point="f", code="def g(x):\\n    return x\\n\\ndef f(x):\\n    return g(x)\\n",
    ...          reference="import math\\n\\ndef g(x):\\n    return math.fabs(x)\\n\\ndef f(x):\\n    return g(x)\\n")
    >>> print(reference_reply_code(t), end="")
    def f(x):
        return g(x)
    <BLANKLINE>
    import math
    <BLANKLINE>
    def g(x):
        return math.fabs(x)
    """
    if not (task.code and task.reference) or same_program(task.code, task.reference):
        return None
    try:
        ref, start = ast.parse(task.reference), ast.parse(task.code)
    except SyntaxError:
        return None
    defs, start_defs = defined_names(ref.body), defined_names(start.body)
    name, _, method = parse_entry_point(task.entry_point)
    target = defs.get(name)
    if target is None:
        return None

    def differs(node: ast.stmt) -> bool:
        return any(
            start_defs.get(name) is None or ast.dump(start_defs[name]) != ast.dump(node)
            for name in defined_names([node])
        )

    used = {id(n) for n in _uses(target, defs) if differs(n)}
    helpers = [n for n in ref.body if id(n) in used]
    needed = _names([target, *helpers])
    have = {ast.unparse(n) for n in start.body if isinstance(n, ast.Import | ast.ImportFrom)}
    imports = [
        n
        for n in ref.body
        if isinstance(n, ast.Import | ast.ImportFrom)
        and ast.unparse(n) not in have
        and set(defined_names([n], imports=True)) & needed
    ]
    lines = task.reference.splitlines()
    if method and isinstance(target, ast.ClassDef):
        parts = [_class_reply(lines, target, method, start_defs.get(name))]
    else:
        parts = [_segment(lines, target)]
    if imports:
        parts.append("\n".join(_segment(lines, n) for n in imports))
    parts += [_segment(lines, n) for n in helpers]
    return "\n\n".join(parts) + "\n"
