from afterburner.bench.evaluate import _integral_ratio, known_solutions
from afterburner.bench.replay import replay_code, replay_reply
from afterburner.llm import extract_code
from afterburner.measurement import compare_samples, summarize
from afterburner.program import program_hash, same_program
from afterburner.results import Measurement, Status
from afterburner.task import Task


def m(cpu: float, peak: int, integral: float | None) -> Measurement:
    return Measurement(
        Status.PASSED, cpu_time_s=summarize([cpu] * 5), peak_memory_bytes=peak, integral=integral
    )


def test_integral_ratio_falls_back_to_peak_times_cpu_when_a_run_was_too_short_to_sample():
    assert _integral_ratio(compare_samples(m(1.0, 100, 80.0), m(0.5, 100, 20.0))) == 0.25
    # the fast side has no integral: both use peak x median CPU (100 x 1.0 vs 50 x 0.1)
    assert _integral_ratio(compare_samples(m(1.0, 100, 80.0), m(0.1, 50, None))) == 0.05
    assert _integral_ratio(compare_samples(m(1.0, 0, 0.0), m(1.0, 0, 0.0))) == 1.0


def test_same_program_sees_through_formatting_comments_docstrings_and_imports():
    a = "def f(x):\n    return x + 1\n"
    assert same_program(a, "def f(x):  # add one\n\n    return x+1")
    # what the trained 0.5B model returned instead of an optimization: the original with star imports
    dressed = 'from typing import *\nfrom collections import *\n\ndef f(x):\n    """One more."""\n    return x + 1\n'
    assert same_program(a, dressed)
    assert not same_program(a, "def f(x):\n    return 1 + x\n")
    assert not same_program(a, "def f(x):\n    import math\n    return x + 1\n")  # only top-level imports
    assert not same_program(a, "") and not same_program(None, a)


def test_program_hash_keeps_imports_so_a_cache_never_mixes_code_that_runs_differently():
    a = "def f(x):\n    return deque(x)\n"
    assert program_hash(a) == program_hash("def f(x):  # a comment\n    return deque(x)")
    assert program_hash(a) != program_hash("from collections import deque\n" + a)


def test_known_solutions_are_the_reference_and_a_different_start():
    t = Task("t", "f", code="def f(x):\n    return x+1\n", reference="def f(x):\n    return x + 1\n")
    assert [k for k, _ in known_solutions(t)] == ["reference"]  # the same program once
    t2 = Task("t", "f", code="def f(x):\n    return 1 + x\n", reference="def f(x):\n    return x + 1\n")
    assert [k for k, _ in known_solutions(t2)] == ["reference", "start"]


def test_replayed_code_is_extracted_back_for_each_strategy_format():
    t = Task(
        "t", "Solution().f", code="", reference="class Solution:\n    def f(self, x):\n        return x\n"
    )
    for strategy in ("default", "afterburner"):
        for kind in ("reference", "wrong"):
            got = extract_code(replay_reply(replay_code(t, kind), strategy), t.entry_point)
            assert got.ok and same_program(got.code, replay_code(t, kind)), (strategy, kind, got.reason)
