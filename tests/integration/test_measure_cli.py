"""`afterburner measure` and `compare` end to end, in the real sandbox."""

from __future__ import annotations

import json

import pytest

from afterburner.cli import main

pytestmark = pytest.mark.integration

SLOW = """
def dedup(xs):
    out = []
    for x in xs:
        if x not in out:
            out.append(x)
    return sorted(out)
"""
FAST = "def dedup_fast(xs):\n    return sorted(set(xs))\n"
WRONG = "def dedup(xs):\n    return sorted(xs)\n"
TESTS = "def check(candidate):\n    assert candidate([3, 1, 3]) == [1, 3]\n    assert candidate([]) == []\n"
WORKLOAD = """
import random
SIZES = [1500]
def generate(n, seed):
    r = random.Random(seed)
    return ([r.randrange(n) for _ in range(n)],), {}
"""


@pytest.fixture
def d(tmp_path):
    for name, text in {
        "slow.py": SLOW,
        "fast.py": FAST,
        "wrong.py": WRONG,
        "tests.py": TESTS,
        "work.py": WORKLOAD,
        "badgen.py": "def generate(n, seed):\n    return 1 / 0\n",
    }.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def run_json(capsys, argv) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_measure_json_has_the_numbers(d, capsys):
    code, m = run_json(
        capsys,
        [
            "measure",
            f"{d}/slow.py::dedup",
            "--tests",
            f"{d}/tests.py",
            "--workload",
            f"{d}/work.py",
            "--repeats",
            "5",
        ],
    )
    assert code == 0 and m["status"] == "passed"
    assert m["cpu_time_s"]["n"] == 5 and 0 < m["cpu_time_s"]["min"] <= m["cpu_time_s"]["median"]
    assert m["wall_time_s"]["median"] >= m["cpu_time_s"]["min"] * 0.5
    assert m["peak_memory_bytes"] > 0 and m["integral"] > 0
    assert m["profile"]["samples"] > 0


def test_measure_report_says_what_each_number_is(d, capsys):
    assert (
        main(
            [
                "measure",
                f"{d}/slow.py::dedup",
                "--tests",
                f"{d}/tests.py",
                "--workload",
                f"{d}/work.py",
                "--repeats",
                "5",
                "--profile",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "CPU time, median of 5 runs" in out and "IQR" in out
    assert "peak Python memory (tracemalloc)" in out and "memory-time integral" in out
    assert "Hot lines" in out


def test_measure_of_wrong_code_reports_the_failure(d, capsys):
    # the file is its own oracle here, so the tests run in "direct" mode: input and answer are still shown
    code, m = run_json(capsys, ["measure", f"{d}/wrong.py::dedup", "--tests", f"{d}/tests.py"])
    assert code == 1 and m["status"] == "wrong_answer"
    assert m["failure"]["got"] == "[1, 3, 3]" and m["failure"]["input"] == "(([3, 1, 3],), {})"


def test_compare_finds_a_real_speedup(d, capsys):
    code, c = run_json(
        capsys,
        [
            "compare",
            f"{d}/slow.py::dedup",
            f"{d}/fast.py::dedup_fast",
            "--tests",
            f"{d}/tests.py",
            "--workload",
            f"{d}/work.py",
            "--repeats",
            "8",
        ],
    )
    assert code == 0 and c["status_a"] == c["status_b"] == "passed"
    lo, hi = c["speedup_ci"]
    assert c["improved"] and 1.05 < lo <= c["speedup"] <= hi


def test_compare_of_identical_code_is_not_an_improvement(d, capsys):
    code, c = run_json(
        capsys,
        [
            "compare",
            f"{d}/slow.py::dedup",
            f"{d}/slow.py::dedup",
            "--tests",
            f"{d}/tests.py",
            "--workload",
            f"{d}/work.py",
            "--repeats",
            "8",
        ],
    )
    assert code == 0 and not c["improved"]
    assert c["speedup_ci"][0] < 1.05


def test_compare_against_wrong_code(d, capsys):
    code, c = run_json(
        capsys, ["compare", f"{d}/slow.py::dedup", f"{d}/wrong.py::dedup", "--tests", f"{d}/tests.py"]
    )
    assert code == 1 and c["status_b"] == "wrong_answer" and not c["improved"]


def test_a_failing_workload_generator_is_bad_input(d, capsys):
    code = main(
        [
            "measure",
            f"{d}/slow.py::dedup",
            "--tests",
            f"{d}/tests.py",
            "--workload",
            f"{d}/badgen.py",
            "--sizes",
            "10",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "generate(n, seed) failed" in err and "ZeroDivisionError" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
