"""The sandbox limits of a run: picked from the original, and the lines that say which limit was hit."""

from types import SimpleNamespace

import pytest

from afterburner.agent.limits import (
    candidate_timeout,
    check_original,
    limit_failure,
    original_limit_error,
    pick_limits,
    with_limits,
)
from afterburner.bench.runner import SerializedSandbox
from afterburner.errors import TaskError
from afterburner.measurement import summarize
from afterburner.results import CheckResult, Failure, Status


def sandbox(timeout=10.0, memory=4 << 30):
    return SimpleNamespace(config=SimpleNamespace(timeout_s=timeout, memory_bytes=memory))


def test_candidate_timeout_is_five_times_the_original_and_at_least_ten_seconds():
    assert candidate_timeout(0.01) == 10.0
    assert candidate_timeout(15.0) == 75.0


def test_pick_limits_from_the_longest_run_of_the_original_or_the_users():
    check = CheckResult(Status.PASSED, wall_time_s=3.0)
    m = SimpleNamespace(wall_time_s=summarize([2.0, 4.5, 3.0]))
    auto = pick_limits(None, None, check, m)
    assert auto == {"timeout_s": 22.5, "memory_bytes": None, "original_run_s": 4.5, "source": "original"}
    given = pick_limits(60, 1024, check, m)
    assert given["timeout_s"] == 60.0 and given["memory_bytes"] == 1 << 30 and given["source"] == "option"


def test_an_original_stopped_by_a_limit_is_an_error_naming_the_option():
    slow = SimpleNamespace(check=lambda task, code: CheckResult(Status.TIMEOUT, Failure(), wall_time_s=10.02))
    slow.config = sandbox().config
    with pytest.raises(
        TaskError, match=r"killed after 10\.0 s, at its wall-clock limit of 10 s; .*--timeout"
    ):
        check_original(slow, SimpleNamespace(code="x"))

    def failing_prepare(task, code):
        raise TaskError("task 't': the original code fails on its own inputs (timeout): no error message")

    prep = SimpleNamespace(check=failing_prepare, config=sandbox(5.0).config)
    with pytest.raises(
        TaskError, match=r"killed at its wall-clock limit of 5 s; give it more time with --timeout"
    ):
        check_original(prep, SimpleNamespace(code="x"))
    cpu = original_limit_error("timeout", sandbox(10.0), detail="CPU time limit (11 s) exceeded")
    assert "CPU-time limit of 11 s" in str(cpu) and "--timeout" in str(cpu)
    mem = original_limit_error("memory_exceeded", sandbox(memory=512 << 20))
    assert "512 MiB" in str(mem) and "--memory-limit MIB" in str(mem)


def test_other_failures_of_the_original_pass_through():
    wrong = SimpleNamespace(
        check=lambda task, code: CheckResult(Status.WRONG_ANSWER), config=sandbox().config
    )
    assert check_original(wrong, SimpleNamespace(code="x")).status is Status.WRONG_ANSWER


def test_a_candidate_timeout_says_how_long_it_ran_against_which_limit():
    line = limit_failure("timeout", sandbox(12.0), ran_s=12.01, original_s=2.4)
    assert line == "killed after 12.0 s at the time limit of 12 s per run (the original's run takes 2.4 s)"
    assert (
        limit_failure("memory_exceeded", sandbox(memory=256 << 20))
        == "ran out of memory (the limit is 256 MiB per run)"
    )


def test_with_limits_leaves_stand_ins_alone_and_keeps_the_bench_lock():
    fake = SimpleNamespace(check=None)
    assert with_limits(fake, 5.0) is fake and with_limits(fake) is fake
    lock = object()
    view = with_limits(SerializedSandbox(fake, lock), timeout_s=5.0)
    assert isinstance(view, SerializedSandbox) and view._lock is lock and view._sb is fake
