"""`afterburner measure` / `compare` with bad input: exit code 2 and one clear line, never a traceback."""

from __future__ import annotations

import pytest

from afterburner.cli import main

SLOW = "def f(xs):\n    return sorted(set(xs))\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "a.py").write_text(SLOW)
    (tmp_path / "tests.py").write_text("def check(candidate):\n    assert candidate([2, 1]) == [1, 2]\n")
    (tmp_path / "notests.py").write_text("def helper():\n    pass\n")
    (tmp_path / "work.json").write_text("{not json")
    (tmp_path / "work.txt").write_text("1 2 3")
    return tmp_path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("afterburner: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["measure", "{d}/missing.py::f", "--tests", "{d}/tests.py"], "does not exist"),
        (["measure", "{d}/a.py::nope", "--tests", "{d}/tests.py"], "does not define 'nope'"),
        (["measure", "{d}/a.py::f", "--tests", "{d}/notests.py"], "does not define check"),
        (
            ["measure", "{d}/a.py::f", "--tests", "{d}/tests.py", "--workload", "{d}/work.json"],
            "not valid JSON",
        ),
        (["measure", "{d}/a.py::f", "--tests", "{d}/tests.py", "--workload", "{d}/work.txt"], "must be .py"),
        (
            ["measure", "{d}/a.py::f", "--tests", "{d}/tests.py", "--workload", "{d}/gone.py"],
            "does not exist",
        ),
        (["measure", "{d}/a.py::f"], "give --tests"),
        (["measure", "{d}/a.py"], "must look like"),
        (["measure", "{d}/a.py::f", "--tests", "{d}/tests.py", "--repeats", "0"], "--repeats"),
        (["compare", "{d}/a.py::f", "{d}/missing.py::g", "--tests", "{d}/tests.py"], "does not exist"),
        (["compare", "{d}/a.py::f", "{d}/a.py::g", "--tests", "{d}/tests.py"], "does not define 'g'"),
    ],
)
def test_bad_input_exits_2_with_one_line(files, capsys, argv, says):
    code = main([a.format(d=files) for a in argv])
    assert code == 2
    assert says in one_error_line(capsys)
