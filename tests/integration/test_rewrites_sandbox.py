"""Mechanical rewrites judged by the real sandbox: one wins beside a model that only echoes, one is
rejected as wrong, and numba's (where numba is installed) compiles and answers right."""

from __future__ import annotations

import pytest

import afterburner.sandbox  # noqa: F401  (the sandbox first: it imports measure)
from afterburner.agent.optimizer import optimize
from afterburner.agent.rewrites import numba_available, plan_rewrites
from afterburner.task import Task
from afterburner.trajectory import read_trajectory

pytestmark = pytest.mark.integration

WAYS = '''\
"""Stairs."""


def ways(n):
    """The number of ways to climb n stairs taking 1, 2 or 3 steps at a time."""
    if n < 0:
        return 0
    if n == 0:
        return 1
    return ways(n - 1) + ways(n - 2) + ways(n - 3)
'''
WAYS_TESTS = """\
def check(candidate):
    assert candidate(0) == 1
    assert candidate(3) == 4
    assert candidate(10) == 274
"""
WAYS_WORKLOAD = """\
def generate(n, seed):
    return (n + seed % 2,), {}
"""

# the answer depends on a module dict that `count` changes through an alias: no analysis of the module's
# own statements sees it change, and a cache keeps the first answer
GLOBAL_STATE = """\
UNIT = {"size": 1}


def ways(n):
    if n < 0:
        return 0
    if n == 0:
        return UNIT["size"]
    return ways(n - 1) + ways(n - 2)


def count(n, size):
    unit = UNIT
    unit["size"] = size
    return ways(n)
"""
GLOBAL_TESTS = """\
def check(candidate):
    assert candidate(5, 1) == 8
    assert candidate(5, 2) == 16
"""

COMMON = """\
def count_common(xs, ys):
    n = 0
    for x in xs:
        if x in set(ys):
            n += 1
    return n
"""
COMMON_TESTS = """\
def check(candidate):
    assert candidate([1, 2, 3, 2], [2, 3, 5]) == 3
    assert candidate([], [1]) == 0
    assert candidate([1], []) == 0
"""
COMMON_WORKLOAD = """\
import random


def generate(n, seed):
    r = random.Random(seed)
    return ([r.randrange(2 * n) for _ in range(n)], [r.randrange(2 * n) for _ in range(n)]), {}
"""

INVERSIONS = """\
import numpy as np


def inversions(x):
    n = len(x)
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            if x[i] > x[j]:
                count += 1
    return count
"""
INVERSIONS_TESTS = """\
import numpy as np


def check(candidate):
    assert candidate(np.array([3.0, 1.0, 2.0])) == 2
    assert candidate(np.array([1.0, 2.0, 3.0])) == 0
"""
INVERSIONS_WORKLOAD = """\
import numpy as np


def generate(n, seed):
    return (np.random.default_rng(seed).normal(size=n),), {}
"""


def block(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```\n"


@pytest.fixture(scope="module")
def sandbox():
    from afterburner.sandbox import Sandbox

    with Sandbox(workers=2) as sb:
        yield sb


def ways_task() -> Task:
    return Task(
        name="ways",
        entry_point="ways",
        code=WAYS,
        check_source=WAYS_TESTS,
        workload_source=WAYS_WORKLOAD,
        sizes=(21,),
    )


def test_a_cache_rewrite_wins_where_the_model_only_echoes_or_errs(sandbox, tmp_path):
    wrong = block("def ways(n):\n    return n\n")
    res = optimize(
        ways_task(),
        backend="scripted",
        replies=[block(WAYS), wrong],  # the code again, and a wrong one
        sandbox=sandbox,
        out_dir=tmp_path,
        candidates=2,
        rounds=1,
    )
    assert res.status == "improved" and res.improved, res.to_dict()
    assert "@functools.cache\ndef ways(n):" in res.best_code and "import functools" in res.best_code
    assert res.best_code.startswith('"""Stairs."""')  # the rest of the module as it was
    assert res.speedup > 1.0 and res.speedup_ci[0] > 1.0

    steps = read_trajectory(res.trajectory_path).steps
    assert [s["origin"] for s in steps] == ["model", "model", "rewrite:functools_cache"]
    assert [s["outcome"] for s in steps] == ["unchanged", "wrong", "faster"]
    assert [s["accepted"] for s in steps] == [False, False, True]
    rewrite = steps[2]
    assert rewrite["messages"] is None and rewrite["completion"] == "" and rewrite["index"] == 2
    assert "functools.cache" in rewrite["why"] and rewrite["comparison"]["improved"]
    assert res.llm_calls == 1  # the rewrite cost no model call


def test_a_cache_on_a_function_reading_a_changed_global_is_rejected_as_wrong(sandbox, tmp_path):
    task = Task(name="count", entry_point="count", code=GLOBAL_STATE, check_source=GLOBAL_TESTS)
    [rewrite] = [r for r in plan_rewrites(GLOBAL_STATE, "count")[0] if r.name == "functools_cache"]
    assert "@functools.cache\ndef ways(n):" in rewrite.code  # the analysis cannot see the alias
    result = sandbox.check(task, rewrite.code)
    assert result.status.value == "wrong_answer"

    res = optimize(
        task,
        backend="scripted",
        replies=[block(GLOBAL_STATE)],
        sandbox=sandbox,
        out_dir=tmp_path,
        candidates=1,
        rounds=1,
    )
    assert res.status == "unchanged" and res.best_code == GLOBAL_STATE
    steps = read_trajectory(res.trajectory_path).steps
    assert [(s["origin"], s["outcome"]) for s in steps] == [
        ("model", "unchanged"),
        ("rewrite:functools_cache", "wrong"),
    ]


def test_a_hoisted_invariant_call_is_correct_and_faster(sandbox):
    task = Task(
        name="common",
        entry_point="count_common",
        code=COMMON,
        check_source=COMMON_TESTS,
        workload_source=COMMON_WORKLOAD,
        sizes=(600,),
    )
    [rewrite] = plan_rewrites(COMMON, "count_common")[0]
    assert rewrite.name == "hoist_invariants" and "    _set_ys = set(ys)\n    for x in xs:" in rewrite.code
    assert sandbox.check(task, rewrite.code).passed
    cmp = sandbox.compare(task, COMMON, rewrite.code)
    assert cmp.b.ok and cmp.improved, cmp.to_dict()


@pytest.mark.skipif(not numba_available(), reason="numba is not installed (pip install 'afterburner[numba]')")
def test_numba_rewrite_compiles_in_the_sandbox_and_answers_right(sandbox):
    task = Task(
        name="inversions",
        entry_point="inversions",
        code=INVERSIONS,
        check_source=INVERSIONS_TESTS,
        workload_source=INVERSIONS_WORKLOAD,
        sizes=(3000,),
    )
    [rewrite] = [r for r in plan_rewrites(INVERSIONS, "inversions")[0] if r.name == "numba_njit"]
    assert "import numba\n" in rewrite.code and "@numba.njit\ndef inversions(x):" in rewrite.code
    check = sandbox.check(task, rewrite.code)
    assert check.passed, check.to_dict()
    m = sandbox.measure(task, rewrite.code, repeats=3)
    assert m.ok, m.to_dict()
