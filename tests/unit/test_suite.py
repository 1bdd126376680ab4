import gzip
import json
from pathlib import Path

import pytest

from afterburner.errors import TaskError
from afterburner.results import CheckResult, Failure, Status
from afterburner.suite import load_suite, validate_suite

GOOD = """\
name: {name}
entry_point: f
code: |
  def f(x):
      return x + 1
tests: |
  def check(candidate):
      assert candidate(1) == 2
"""


def write_suite(tmp_path: Path) -> Path:
    d = tmp_path / "suite"
    d.mkdir()
    (d / "a.yaml").write_text(GOOD.format(name="a"))
    (d / "b.yaml").write_text("name: b\nentry_point: f\ncode: [unclosed\n")  # unparsable
    (d / "c.yaml").write_text("name: c\ncode: 'def f(): pass'\n")  # no entry point
    (d / "d.json").write_text(
        json.dumps({"name": "d", "entry_point": "f", "code": "def f(x):\n    return x\n"})
    )
    (d / "notes.txt").write_text("not a task")
    return d


def test_a_folder_with_broken_tasks_reports_them_and_keeps_the_rest(tmp_path):
    suite = load_suite(write_suite(tmp_path))
    assert [t.name for t in suite.tasks] == ["a", "d"]
    reasons = {Path(b.where).name: b.reason for b in suite.broken}
    assert set(reasons) == {"b.yaml", "c.yaml"}
    assert "not valid YAML" in reasons["b.yaml"]
    assert "missing 'entry_point'" in reasons["c.yaml"]


def test_limit_counts_good_tasks(tmp_path):
    assert [t.name for t in load_suite(write_suite(tmp_path), limit=1).tasks] == ["a"]


def test_split_keeps_one_half_before_the_limit_and_a_suite_without_halves_is_an_error(tmp_path):
    d = tmp_path / "halves"
    d.mkdir()
    for name, split in (("a", "train"), ("b", "test"), ("c", "train"), ("d", "test")):
        (d / f"{name}.yaml").write_text(GOOD.format(name=name) + f"metadata: {{split: {split}}}\n")
    test = load_suite(d, split="test")
    assert [t.name for t in test.tasks] == ["b", "d"] and test.name == "halves-test"
    assert [t.name for t in load_suite(d, limit=1, split="train").tasks] == ["a"]
    assert [t.name for t in load_suite(d).tasks] == ["a", "b", "c", "d"]
    with pytest.raises(TaskError, match="has no train/test split"):
        load_suite(write_suite(tmp_path), split="test")
    with pytest.raises(TaskError, match="not one of train, test"):
        load_suite(d, split="dev")


def test_missing_suite_is_one_clear_error(tmp_path):
    with pytest.raises(TaskError, match="does not exist"):
        load_suite(tmp_path / "nope")


def test_jsonl_of_tasks_with_a_bad_line_and_a_duplicate(tmp_path):
    p = tmp_path / "tasks.jsonl"
    row = {
        "name": "t1",
        "entry_point": "f",
        "code": "def f(x):\n    return x\n",
        "cases": [{"args": [1], "expected": 1}],
    }
    lines = [json.dumps(row), "{not json", json.dumps({"name": "t2", "code": "x"}), json.dumps(row), ""]
    p.write_text("\n".join(lines))
    suite = load_suite(p)
    assert [t.name for t in suite.tasks] == ["t1"]
    assert suite.name == "tasks"

    assert len(suite.broken) == 3
    assert any("not valid JSON" in b.reason and b.where.endswith(":2") for b in suite.broken)
    assert any("missing 'entry_point'" in b.reason and b.where.endswith(":3") for b in suite.broken)
    assert any("second task named 't1'" in b.reason for b in suite.broken)


def humaneval_row(i: int) -> dict:
    return {
        "task_id": f"HumanEval/{i}",
        "prompt": f'def add{i}(a, b):\n    """Add."""\n',
        "canonical_solution": "    return a + b\n",
        "entry_point": f"add{i}",
        "base_input": [[1, 2]],
        "plus_input": [[3, 4]],
        "atol": 0,
    }


def test_problem_set_is_from_description_and_a_bad_row_is_reported(tmp_path):
    p = tmp_path / "HumanEvalPlus.jsonl.gz"
    bad = humaneval_row(1)
    del bad["canonical_solution"]
    with gzip.open(p, "wt") as f:
        for row in (humaneval_row(0), bad, humaneval_row(2)):
            f.write(json.dumps(row) + "\n")
    suite = load_suite(p)
    assert suite.name == "HumanEvalPlus"
    assert [t.name for t in suite.tasks] == ["HumanEval/0", "HumanEval/2"]
    assert all(t.code == "" and "return a + b" in t.reference for t in suite.tasks)
    assert suite.metadata["from_description"]
    [broken] = suite.broken
    assert broken.where.endswith(":2") and "canonical_solution" in broken.reason
    started = load_suite(p, limit=1, with_solution=True)
    assert [t.code for t in started.tasks] == [started.tasks[0].reference]


class FakeSandbox:
    def check(self, task, code):
        if "return x + 1" in code:
            return CheckResult(Status.PASSED)
        return CheckResult(Status.WRONG_ANSWER, Failure(input="(1,)", expected="2", got="1"))


def test_validate_moves_tasks_that_fail_on_their_own_code(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    (d / "a.yaml").write_text(GOOD.format(name="a"))
    (d / "w.yaml").write_text(GOOD.format(name="w").replace("x + 1", "x"))
    (d / "n.json").write_text(
        json.dumps({"name": "n", "entry_point": "f", "code": "def f(x):\n    return x + 1\n"})
    )
    suite = validate_suite(load_suite(d), FakeSandbox())
    assert [t.name for t in suite.tasks] == ["a"]
    reasons = {b.where.rsplit("/", 1)[-1]: b.reason for b in suite.broken}
    assert "wrong_answer" in reasons["w.yaml"] and "expected: 2" in reasons["w.yaml"]
    assert "no tests" in reasons["n.json"]
