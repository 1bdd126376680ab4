"""Mistakes in the user's own files (target, tests, workload, task file): through the CLI, exit code 2 and
one line on stderr that names the file, the line where there is one, and the problem; never a traceback."""

from __future__ import annotations

import pytest

from afterburner.cli import main

GOOD = "def has_dup(xs):\n    return len(set(xs)) != len(xs)\n"
TESTS = "def check(candidate):\n    assert candidate([1, 1])\n"
WORK = "def generate(n, seed):\n    return (list(range(n)),), {}\n"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("afterburner: error: ")
    return lines[0]


def write(d, name: str, text: str) -> str:
    (d / name).write_text(text)
    return str(d / name)


@pytest.mark.parametrize(
    ("files", "argv", "says"),
    [
        (  # a syntax error in the target: not "does not define 'has_dup'"
            {"x.py": "def has_dup(xs):\n    return len(set(xs) != len(xs)\n"},
            ["measure", "{d}/x.py::has_dup", "--tests", "{d}/t.py"],
            ["source file", "x.py", "line 2", "never closed"],
        ),
        (
            {"x.py": GOOD + "def other(:\n    pass\n"},
            ["compare", "{d}/good.py::has_dup", "{d}/x.py::has_dup", "--tests", "{d}/t.py"],
            ["source file", "x.py", "line 3", "invalid syntax"],
        ),
        (
            {"x.py": "def helper(xs):\n    return xs\n"},
            ["measure", "{d}/x.py::has_dup", "--tests", "{d}/t.py"],
            ["x.py", "does not define 'has_dup'", "it defines helper"],
        ),
        (  # a syntax error in the tests: not "does not define check(candidate)"
            {"bad_tests.py": "def check(candidate):\n    assert candidate([1, 1]) ==\n"},
            ["measure", "{d}/good.py::has_dup", "--tests", "{d}/bad_tests.py"],
            ["tests file", "bad_tests.py", "line 2", "invalid syntax"],
        ),
        (
            {"no_check.py": "def test_it():\n    pass\n"},
            ["measure", "{d}/good.py::has_dup", "--tests", "{d}/no_check.py"],
            ["tests file", "no_check.py", "does not define check(candidate)", "it defines test_it"],
        ),
        (
            {"no_gen.py": "SIZES = [10]\ndef make(n):\n    return n\n"},
            ["measure", "{d}/good.py::has_dup", "--tests", "{d}/t.py", "--workload", "{d}/no_gen.py"],
            ["workload file", "no_gen.py", "does not define generate(n, seed)", "it defines SIZES, make"],
        ),
        (
            {"bad_work.py": "def generate(n, seed)\n    return (n,), {}\n"},
            ["measure", "{d}/good.py::has_dup", "--tests", "{d}/t.py", "--workload", "{d}/bad_work.py"],
            ["workload file", "bad_work.py", "line 1", "expected ':'"],
        ),
        (  # used to be a traceback
            {"task.yaml": "entry_point: [1]\ncode: 'def f(x):\n  return x\n'\ntests: [[1]]\n"},
            ["measure", "--task", "{d}/task.yaml"],
            ["task file", "task.yaml", "entry point must be text", "[1]"],
        ),
        (  # used to load
            {"task.yaml": "entry_point: f\ncode: 7\ntests: [[1]]\n"},
            ["measure", "--task", "{d}/task.yaml"],
            ["task file", "task.yaml", "'code' must be text", "7"],
        ),
        (
            {"task.yaml": "entry_point: f\ncode: |\n  def f(x):\n      return x +\ntests: [[1]]\n"},
            ["measure", "--task", "{d}/task.yaml"],
            ["task file", "task.yaml", "'code', line 2", "invalid syntax"],
        ),
        (
            {"task.yaml": "entry_point: f\ncode: |\n  def g(x):\n      return x\ntests: [[1]]\n"},
            ["measure", "--task", "{d}/task.yaml"],
            ["task file", "task.yaml", "'code' does not define 'f'", "it defines g"],
        ),
        (
            {
                "task.yaml": "entry_point: f\ncode: 'def f(x): return x'\ntests:\n  check: 'def chek(c): pass'\n"
            },
            ["measure", "--task", "{d}/task.yaml"],
            ["task file", "task.yaml", "does not define check(candidate)", "it defines chek"],
        ),
        (
            {
                "task.yaml": "entry_point: f\ncode: 'def f(x): return x'\ntests: [[1]]\nworkload:\n"
                "  generate: |\n    def generate(n, seed):\n        return ((n,), {}\n  sizes: [1]\n"
            },
            ["measure", "--task", "{d}/task.yaml"],
            ["task file", "task.yaml", "workload source, line 2", "never closed"],
        ),
        (
            {"task.yaml": "entry_point: f\ncode: 'def f(x): return x'\ntests: [[1]]\nsizes: [ten]\n"},
            ["measure", "--task", "{d}/task.yaml"],
            ["task file", "task.yaml", "'sizes' must be a list of whole numbers"],
        ),
        (
            {"x.py": "def has_dup(xs:\n    pass\n"},
            ["optimize", "{d}/x.py::has_dup", "--tests", "{d}/t.py", "--backend", "scripted"],
            ["source file", "x.py", "line 1"],
        ),
    ],
)
def test_user_file_errors_name_file_line_and_problem(tmp_path, capsys, files, argv, says):
    write(tmp_path, "good.py", GOOD)
    write(tmp_path, "t.py", TESTS)
    write(tmp_path, "w.py", WORK)
    for name, text in files.items():
        write(tmp_path, name, text)
    code = main([a.format(d=tmp_path) for a in argv])
    line = one_error_line(capsys)
    assert code == 2
    for part in says:
        assert part in line, (part, line)
