from afterburner.bench.evaluate import _integral_ratio, known_solutions, same_code
from afterburner.bench.replay import replay_code, replay_reply
from afterburner.llm import extract_code
from afterburner.measurement import Measurement, compare_samples, summarize
from afterburner.sandbox.result import Status
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


def test_same_program_ignores_formatting_and_comments_only():
    a = "def f(x):\n    return x + 1\n"
    assert same_code(a, "def f(x):  # add one\n\n    return x+1")
    assert not same_code(a, "def f(x):\n    return 1 + x\n")
    assert not same_code(a, "") and not same_code(None, a)


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
            assert got.ok and same_code(got.code, replay_code(t, kind)), (strategy, kind, got.reason)
