"""SFT data from the real suite: each task's known faster version, reduced to the reply the model writes."""

from __future__ import annotations

import ast
import doctest
from pathlib import Path

import pytest

import training.reference
from afterburner.llm import merge_into_module
from afterburner.program import defined_names
from afterburner.prompts import initial_conversation, reply_start
from afterburner.task import Task, load_task_file, parse_entry_point
from training.data import format_reply, load_tasks, sft_rows
from training.reference import reference_reply_code

REAL_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "suites" / "real"
REAL = sorted(REAL_DIR.glob("*.yaml"))


def test_the_docstring_example_holds():
    assert doctest.testmod(training.reference).failed == 0


def _dump(node: ast.stmt) -> object:
    """A definition as data; a class as its header and its members by name (their order and the class
    docstring aside: the merge may put the target method first)."""
    if not isinstance(node, ast.ClassDef):
        return ast.dump(node)
    members = {n: ast.dump(v) for n, v in defined_names(node.body).items()}
    return [ast.dump(x) for x in (*node.bases, *node.keywords, *node.decorator_list)], members


def _reached(tree: ast.Module, name: str) -> dict[str, object]:
    """Each top-level name the definition of `name` reaches in `tree` (itself included), as data."""
    defs = defined_names(tree.body)
    seen, todo = {name}, [defs[name]]
    while todo:
        for n in ast.walk(todo.pop()):
            if isinstance(n, ast.Name) and n.id in defs and n.id not in seen:
                seen.add(n.id)
                todo.append(defs[n.id])
    return {n: _dump(defs[n]) for n in seen}


def _imports(tree: ast.Module) -> set[str]:
    return {ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)}


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_the_reduced_reply_merged_into_the_start_gives_the_references_code(path):
    task = load_task_file(path)
    reply = reference_reply_code(task)
    assert reply, "every real task has a faster version that differs from its start"
    assert reply.startswith(reply_start(task).removeprefix("```python\n")), "starts like the prefilled reply"
    merged = ast.parse(merge_into_module(task.code, reply, task.entry_point))
    ref, start = ast.parse(task.reference), ast.parse(task.code)
    name = parse_entry_point(task.entry_point)[0]
    got, start_classes = _reached(merged, name), _reached(start, name)
    for n, want in _reached(ref, name).items():
        if isinstance(want, tuple):  # a class: the reference's header and members, plus any the start
            header, members = got[n]  # had that the reference dropped (unused, kept by the merge)
            extra = {m: d for m, d in members.items() if m not in want[1]}
            assert header == want[0] and {m: members[m] for m in want[1]} == want[1]
            assert extra.items() <= start_classes.get(n, ([], {}))[1].items()
        else:
            assert got[n] == want, n
    needed = {n.id for n in ast.walk(ref) if isinstance(n, ast.Name)}
    for node in ref.body:
        if (
            isinstance(node, ast.Import | ast.ImportFrom)
            and set(defined_names([node], imports=True)) & needed
        ):
            assert ast.unparse(node) in _imports(merged)
    # reduced: nothing the start already has, but the target (which the prompt asks for)
    start_defs = {n: ast.dump(v) for n, v in defined_names(start.body).items()}
    for n, node in defined_names(ast.parse(reply).body).items():
        assert n == name or start_defs.get(n) != ast.dump(node), f"{n} is the start's own"
    assert not (_imports(ast.parse(reply)) & _imports(start))


def test_no_reply_without_a_different_reference():
    code = "def f(x):\n    return x + 1\n"
    assert reference_reply_code(Task(name="t", entry_point="f", code=code)) is None
    assert (
        reference_reply_code(Task(name="t", entry_point="f", code=code, reference=code + "# same\n")) is None
    )
    assert reference_reply_code(Task(name="t", entry_point="f", code="", reference=code)) is None


def test_sft_rows_of_the_train_half_answer_the_first_round_prompt_with_the_faster_version():
    tasks = load_tasks([str(REAL_DIR)], split="train")
    train = [p.stem for p in REAL if load_task_file(p).metadata["split"] == "train"]
    assert sorted(t.name for t in tasks) == sorted(train)
    rows = sft_rows(None, tasks)
    assert len(rows) == len(tasks)  # no descriptions in the real suite: one row per task
    for task, row in zip(tasks, rows, strict=True):
        assert row["prompt"] == initial_conversation(task)
        assert row["completion"] == [
            {"role": "assistant", "content": format_reply(reference_reply_code(task))}
        ]
        assert Task.from_dict(__import__("json").loads(row["task"])).name == task.name
