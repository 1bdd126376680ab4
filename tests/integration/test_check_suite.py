"""benchmarks/suites/check_suite.py on real tasks, through the real sandbox."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "suites" / "check_suite.py"
SMOKE = ROOT / "benchmarks" / "suites" / "smoke"


def run_check(suite: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(suite), "--repeats", "3", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )


def table(stdout: str) -> dict[str, str]:
    """The printed rows by task name (between the header rule and the blank line)."""
    rows = {}
    for line in stdout.splitlines()[2:]:
        if not line.strip():
            break
        rows[line.split()[0]] = line
    return rows


def test_three_smoke_tasks_pass_the_mechanical_check():
    names = ["two-sum", "climbing-stairs", "missing-number"]
    proc = run_check(SMOKE, "--only", *names)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = table(proc.stdout)
    assert set(rows) == set(names)
    assert all("  yes" in row for row in rows.values()), rows
    assert "3/3 ok" in proc.stdout


def test_a_reference_that_is_not_faster_or_not_right_fails_the_check(tmp_path):
    task = yaml.safe_load((SMOKE / "two-sum.yaml").read_text())
    same = {**task, "name": "same-speed", "reference": task["code"]}
    wrong = {
        **task,
        "name": "wrong-reference",
        "reference": task["reference"].replace("return [m[y], i]", "return [i, m[y]]"),
    }
    for t in (same, wrong):
        (tmp_path / f"{t['name']}.yaml").write_text(yaml.safe_dump(t, sort_keys=False))
    proc = run_check(tmp_path)
    assert proc.returncode == 1
    lines = table(proc.stdout)
    assert "not significantly faster" in lines["same-speed"]
    assert "reference: wrong_answer" in lines["wrong-reference"]
    assert "FAILED: same-speed, wrong-reference" in proc.stderr


def test_the_examples_layout_is_checked_too(tmp_path):
    examples = ROOT / "examples"
    for suffix in (".py", "_tests.py", "_workload.py", "_fast.py"):
        (tmp_path / f"duplicates{suffix}").write_text((examples / f"duplicates{suffix}").read_text())
    proc = run_check(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1/1 ok" in proc.stdout


def test_min_speedup_fails_a_task_whose_headroom_is_below_it():
    proc = run_check(SMOKE, "--only", "two-sum", "--min-speedup", "1000")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    row = table(proc.stdout)["two-sum"]
    assert "NO" in row and "headroom too small" in row and "--min-speedup 1000" in row
    assert "[1/1] two-sum: FAILED" in proc.stderr  # reported as the task finishes
    assert "0/1 ok, headroom at least 1000x" in proc.stdout
    proc = run_check(SMOKE, "--only", "two-sum", "--min-speedup", "0.5")
    assert proc.returncode == 2 and "--min-speedup must be at least 1" in proc.stderr
