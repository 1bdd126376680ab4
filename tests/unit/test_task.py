"""Tasks and their loaders: targets with tests/workload files, task files, the JSONL problem sets."""

import gzip
import json
from pathlib import Path

import pytest

from afterburner.errors import TaskError
from afterburner.task import Case, Task, load_problem_set, load_target, load_task_file, parse_entry_point

SLOW = "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "tests.py").write_text("def check(candidate):\n    assert candidate([1, 2]) == 3\n")
    (tmp_path / "work.py").write_text("SIZES = [10, 20]\ndef generate(n, seed):\n    return ([1] * n,), {}\n")
    return tmp_path


def test_entry_point_forms():
    assert parse_entry_point("f") == ("f", False, None)
    assert parse_entry_point("Cls.m") == ("Cls", False, "m")
    assert parse_entry_point("Solution().twoSum") == ("Solution", True, "twoSum")
    with pytest.raises(TaskError, match="entry point"):
        parse_entry_point("a.b.c")


def test_load_target_reads_code_tests_and_workload_sizes(target: Path):
    task = load_target(f"{target}/slow.py::total", tests=target / "tests.py", workload=target / "work.py")
    assert task.code == SLOW and task.function_name == "total"
    assert "def check" in task.check_source
    assert task.sizes == (10, 20)  # from SIZES in the workload file
    assert task.source_path == str((target / "slow.py").resolve())
    explicit = load_target(f"{target}/slow.py::total", workload=target / "work.py", sizes=[5])
    assert explicit.sizes == (5,)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: load_target(f"{d}/missing.py::total"), "does not exist"),
        (lambda d: load_target(f"{d}/slow.py::nope"), "does not define 'nope'"),
        (lambda d: load_target(f"{d}/slow.py"), "path/to/file.py::function_name"),
        (lambda d: load_target(f"{d}/slow.py::total", tests=d / "slow.py"), "does not define check"),
        (lambda d: load_target(f"{d}/slow.py::total", workload=d / "tests.py"), "does not define generate"),
    ],
)
def test_bad_targets_say_what_is_wrong(target: Path, make, message):
    with pytest.raises(TaskError, match=message):
        make(target)


def test_json_cases_with_and_without_expected(target: Path):
    (target / "cases.json").write_text(json.dumps([{"args": [[1, 2]], "expected": 3}, {"args": [[5]]}]))
    task = load_target(f"{target}/slow.py::total", tests=target / "cases.json")
    assert task.cases == (Case(([1, 2],), {}, 3, True), Case(([5],)))
    (target / "bad.json").write_text("{not json")
    with pytest.raises(TaskError, match="not valid JSON"):
        load_target(f"{target}/slow.py::total", tests=target / "bad.json")


def test_task_file_with_inline_cases_and_inputs(tmp_path: Path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "name: total\nentry_point: total\ncode: |\n  def total(xs):\n      return sum(xs)\n"
        "tests:\n  - {args: [[1, 2]], expected: 3}\nworkload:\n  inputs:\n    - [[1, 2, 3]]\n"
    )
    task = load_task_file(path)
    assert task.cases[0].expected == 3 and task.workload_inputs[0].args == ([1, 2, 3],)
    assert Task.from_dict(task.to_dict()) == task  # round trip through plain data
    path.write_text("name: t\nentry_point: f\nbogus: 1\n")
    with pytest.raises(TaskError, match=r"unknown key.*bogus"):
        load_task_file(path)


def test_problem_set_rows_of_each_kind(tmp_path: Path):
    rows = [
        {
            "task_id": "two-sum",
            "entry_point": "Solution().twoSum",
            "completion": "class Solution: ...",
            "test": "def check(candidate): pass",
            "query": "q",
            "prompt": "from typing import *",
            "input_output": [],
        },
        {
            "task_id": "HumanEval/0",
            "entry_point": "f",
            "prompt": "def f(x):\n",
            "canonical_solution": "    return x\n",
            "base_input": [[1]],
            "plus_input": [[2]],
            "atol": 0,
        },
        {
            "task_id": "Mbpp/2",
            "entry_point": "g",
            "prompt": "p",
            "canonical_solution": "def g(x): return x",
            "base_input": [[1]],
            "plus_input": [],
            "atol": 0,
            "assertion": "assert g(1) == 1",
        },
    ]
    path = tmp_path / "set.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(json.dumps(r) for r in rows))
    lc, he, mb = load_problem_set(path)
    assert (
        lc.code == "" and lc.reference.startswith("class Solution") and lc.prelude.startswith("from typing")
    )
    assert he.cases == (Case((1,)), Case((2,))) and he.reference == "def f(x):\n    return x\n"
    assert mb.metadata["oracle"] == "reference"
    assert load_problem_set(path, limit=1, with_solution=True)[0].code.startswith("class Solution")
