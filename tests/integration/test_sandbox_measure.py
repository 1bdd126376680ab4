"""Sandbox.check / measure / compare on real code: the numbers a user relies on."""

from __future__ import annotations

import shutil
import time
import warnings

import pytest

from afterburner.errors import SandboxError
from afterburner.sandbox import Sandbox, SandboxConfig, Status, pool
from afterburner.task import Case, Task

pytestmark = pytest.mark.integration

SLOW = "def f(xs):\n    out = []\n    for x in xs:\n        if x not in out:\n            out.append(x)\n    return sorted(out)\n"
FAST = "def f(xs):\n    return sorted(set(xs))\n"
GEN = "import random\ndef generate(n, seed):\n    r = random.Random(seed)\n    return ([r.randrange(n) for _ in range(n)],), {}\n"


def task(**kw) -> Task:
    base = dict(
        name="dedup",
        entry_point="f",
        code=SLOW,
        workload_source=GEN,
        sizes=(1000,),
        check_source="def check(candidate):\n    assert candidate([3, 1, 3]) == [1, 3]\n",
    )
    base.update(kw)
    return Task(**base)


@pytest.fixture(scope="module")
def sb():
    with Sandbox(SandboxConfig(max_repeats=10), workers=2) as s:
        yield s


def test_a_different_but_valid_answer_passes_check_tests_by_replay(sb):
    t = task(
        code="def f(xs):\n    return sorted(set(xs))\n",
        check_source="def check(candidate):\n    assert set(candidate([3, 1, 3])) == {1, 3}\n",
        workload_source=None,
        sizes=(),
    )
    r = sb.check(t, "def f(xs):\n    return sorted(set(xs), reverse=True)\n")
    assert r.passed and r.details["check_mode"] == "replay"


def test_check_tests_that_depend_on_answers_fail_without_running_check_in_the_candidate(sb):
    t = task(
        check_source="def check(candidate):\n    a = candidate([3, 1])\n    assert candidate(a + [1]) == [1, 3]\n",
        workload_source=None,
        sizes=(),
    )
    r = sb.check(t, "def f(xs):\n    return sorted(set(xs), reverse=True)\n")
    assert r.status is Status.WRONG_ANSWER and r.details["check_mode"] == "replay"


def test_workload_outputs_are_checked_against_the_original(sb):
    wrong_on_big = "def f(xs):\n    return sorted(set(xs)) if len(xs) < 100 else []\n"
    r = sb.check(task(), wrong_on_big)
    assert r.status is Status.WRONG_ANSWER and "workload" in r.failure.error


def test_check_many_runs_in_parallel_and_keeps_order(sb):
    results = sb.check_many(task(), [FAST, "def f(xs):\n    return xs\n", SLOW, "def f(:\n"])
    assert [r.status for r in results] == [
        Status.PASSED,
        Status.WRONG_ANSWER,
        Status.PASSED,
        Status.SYNTAX_ERROR,
    ]


def test_measure_reports_time_memory_and_a_profile(sb):
    m = sb.measure(task(sizes=(3000,)), repeats=5, profile=True)
    assert m.ok and m.cpu_time_s.n == 5 and m.wall_time_s.n == 5
    assert m.peak_memory_bytes > 0 and m.integral > 0 and m.peak_rss_bytes is not None
    assert m.profile.samples > 0 and m.profile.functions[0]["name"] == "f"
    assert "Hot lines" in m.profile.text()


def test_measure_of_a_known_allocation(sb):
    t = Task(
        name="alloc",
        entry_point="f",
        code="def f(n):\n    return len(bytearray(n))\n",
        workload_inputs=(Case((50 << 20,)),),
    )
    m = sb.measure(t, repeats=3)
    assert abs(m.peak_memory_bytes - (50 << 20)) / (50 << 20) < 0.05


def test_compare_sees_the_faster_code_and_not_itself(sb):
    c = sb.compare(task(), SLOW, FAST, repeats=8)
    assert c.improved and c.speedup_ci[0] > 1.05 and c.b.cpu_time_s.n == 8
    same = sb.compare(task(), FAST, FAST, repeats=8)
    assert not same.improved


def test_a_passed_check_given_to_measure_or_compare_is_not_run_again(sb, monkeypatch):
    t = task()
    slow, fast = sb.check(t, SLOW), sb.check(t, FAST)
    checked, real = [], Sandbox.check
    monkeypatch.setattr(
        Sandbox, "check", lambda self, task, code=None: checked.append(code) or real(self, task, code)
    )
    m = sb.measure(t, FAST, repeats=2, checked=fast)
    c = sb.compare(t, SLOW, FAST, repeats=3, checked_a=slow, checked_b=fast)
    assert checked == [] and m.ok and m.cpu_time_s.n == 2 and c.a.ok and c.b.ok and c.speedup > 1
    assert c.b.details["check_mode"] == fast.details["check_mode"]
    # another code's check is no pass for this one, nor is a failed one: those are checked
    assert sb.measure(t, FAST, repeats=1, checked=slow).ok and checked == [FAST]
    wrong = "def f(xs):\n    return xs\n"
    failed = sb.check(t, wrong)
    assert not sb.compare(t, SLOW, wrong, repeats=1, checked_a=slow, checked_b=failed).b.ok
    assert checked == [FAST, wrong, wrong]


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_counts_are_deterministic_and_rank_the_code(sb):
    t = task(sizes=(300,))
    slow = sb.measure(t, repeats=1, instructions=True).instructions
    fast = sb.measure(t, FAST, repeats=1, instructions=True).instructions
    again = sb.measure(t, FAST, repeats=1, instructions=True).instructions
    assert slow > fast > 0 and fast == again


def _gone(pid: int, wait: float = 3.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_closing_the_sandbox_leaves_nothing_running():
    sb = Sandbox(workers=2)
    assert sb.check(task(workload_source=None, sizes=()), FAST).passed
    pids = [w.proc.pid for w in sb.pool._workers] + sb.pool.zygote_pids()
    assert len(pids) == 4
    sb.close()
    assert all(_gone(p) for p in pids)


def test_without_bwrap_it_warns_once_and_runs_with_limits_only(monkeypatch):
    monkeypatch.setattr(pool, "_PROBE", {})
    monkeypatch.setattr(pool, "bwrap_prefix", lambda hostdir: ["/nonexistent/bwrap"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Sandbox(workers=1) as sb:
            assert sb.isolation == "none"
            assert sb.check(task(workload_source=None, sizes=()), FAST).passed
        with Sandbox(workers=1) as sb:
            assert sb.isolation == "none"
    said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    # one warning, naming the package and what the fallback does (as root: its own namespaces) or not
    assert len(said) == 1 and "apt-get install bubblewrap" in said[0] and "seccomp" in said[0]


def test_asking_for_bwrap_when_it_does_not_work_is_an_error(monkeypatch):
    monkeypatch.setattr(pool, "_PROBE", {})
    monkeypatch.setattr(pool, "bwrap_prefix", lambda hostdir: ["/nonexistent/bwrap"])
    with pytest.raises(SandboxError, match="bwrap does not work"):
        Sandbox(SandboxConfig(isolation="bwrap"), workers=1)


def test_the_hot_line_of_a_nested_loop_is_the_inner_loop_not_its_last_statement(sb):
    code = (
        "def f(xs):\n"
        "    dup = []\n"
        "    for i in range(len(xs)):\n"
        "        for j in range(i + 1, len(xs)):\n"
        "            if xs[i] == xs[j] and xs[i] not in dup:\n"
        "                dup.append(xs[i])\n"
        "                break\n"
        "    return dup\n"
    )
    t = Task(name="dups", entry_point="f", code=code, workload_inputs=(Case((list(range(1500)),)),))
    m = sb.measure(t, repeats=1, profile=True)
    top = m.profile.lines[0]
    assert top["line"] in (4, 5) and "break" not in top["code"] and top["share"] > 0.5


LIST_PRELUDE = (
    "class ListNode:\n"
    "    def __init__(self, val=0, next=None):\n"
    "        self.val, self.next = val, next\n"
    "def build(xs):\n"
    "    head = None\n"
    "    for x in reversed(xs):\n"
    "        head = ListNode(x, head)\n"
    "    return head\n"
    "def values(node):\n"
    "    out = []\n"
    "    while node:\n"
    "        out.append(node.val)\n"
    "        node = node.next\n"
    "    return out\n"
)
REVERSE = (
    "def reverse(head):\n"
    "    prev = None\n"
    "    while head:\n"
    "        head.next, prev, head = prev, head, head.next\n"
    "    return prev\n"
)


def test_object_outputs_fall_back_to_direct_checks_and_are_still_timed(sb):
    t = Task(
        name="rev",
        entry_point="reverse",
        code=REVERSE,
        prelude=LIST_PRELUDE,
        check_source="def check(candidate):\n    assert values(candidate(build(list(range(2000))))) == "
        "list(range(1999, -1, -1))\n",
    )
    assert sb.check(t).details["check_mode"] == "direct"
    m = sb.measure(t, repeats=3)
    assert m.ok and m.cpu_time_s.n == 3 and m.details["workload"] == "tests (check run directly)"
    wrong = sb.measure(t, "def reverse(head):\n    return head\n", repeats=3)
    assert wrong.status is Status.WRONG_ANSWER


def test_a_view_with_a_smaller_limit_enforces_it_and_the_sandbox_keeps_its_own(sb):
    from afterburner.agent.limits import with_limits

    slow = "import time\ndef f(xs):\n    time.sleep(2.5)\n    return sorted(set(xs))\n"
    t = task(workload_source=None, sizes=())
    tight = with_limits(sb, timeout_s=1.0)
    t0 = time.monotonic()
    r = tight.check(t, slow)
    assert r.status is Status.TIMEOUT and time.monotonic() - t0 < 2.4  # killed at 1 s, not at the sleep's end
    assert tight.config.timeout_s == 1.0 and sb.config.timeout_s != 1.0
    assert sb.check(t, slow).passed  # the sandbox itself still has its own limit
