"""The training rewards on their own, apart from any trainer, with a stand-in sandbox.

The stand-in reads the "cost" of a candidate from a comment (``# cost=0.5``) and fails any code
containing ``WRONG``, so every formula can be checked exactly. The real sandbox is exercised in
tests/integration/test_training_rewards.py.
"""

from __future__ import annotations

import json
import math
import pickle
import re

import pytest

# isort: split
from afterburner.errors import SandboxError
from afterburner.measurement import compare_samples, summarize
from afterburner.results import CheckResult, Measurement, Status
from afterburner.task import Task
from training.rewards import AfterburnerReward, SpeedupReward, make_reward

SLOW = "def f(x):\n    # cost=1.0\n    return sum(range(x))\n"
TASK = Task(
    name="t",
    entry_point="f",
    code=SLOW,
    cases=(),
    workload_inputs=(),
    check_source="def check(c):\n    pass\n",
)
TASK_JSON = json.dumps(TASK.to_dict())


class FakeSandbox:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def check(self, task, code):
        self.calls.append(("check", code))
        if "HOSTILE" in code:
            raise SandboxError("worker lost")
        return CheckResult(Status.WRONG_ANSWER if "WRONG" in code else Status.PASSED)

    def measure(self, task, code, repeats=None, profile=False):
        self.calls.append(("measure", code))
        if "HOSTILE" in code:
            raise SandboxError("worker lost")
        if "WRONG" in code:  # like the real one, measure checks correctness first
            return Measurement(Status.WRONG_ANSWER)
        cost = float(re.search(r"cost=([\d.]+)", code).group(1))
        noise = (0.999, 1.0, 1.001, 1.0, 0.9995)  # tiny, so an interval is tight around `cost`
        return Measurement(Status.PASSED, cpu_time_s=summarize([self.drift * cost * n for n in noise]))

    def compare(self, task, code_a, code_b, repeats=None, min_gain=0.05):
        self.calls.append(("compare", code_b))
        drift = self.drift
        self.drift = 1.0  # the interleaved run sees both under the same conditions
        a, b = self.measure(task, code_a), self.measure(task, code_b)
        self.drift = drift
        return compare_samples(a, b, min_gain=min_gain)


FakeSandbox.drift = 1.0  # a factor on every measured cost (load, frequency scaling)
FAKE = FakeSandbox()


def fake_sandbox() -> FakeSandbox:
    return FAKE


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    FAKE.calls.clear()
    FAKE.drift = 1.0
    import training.rewards as rewards

    monkeypatch.setattr(rewards, "_BASELINES", {})
    monkeypatch.setattr(Task, "has_workload", property(lambda self: True))


def reply(cost: float, wrong: bool = False) -> str:
    body = "return -1  # WRONG" if wrong else "return x * (x - 1) // 2"
    return f"```python\ndef f(x):\n    # cost={cost}\n    {body}\n```"


def test_speedup_reward_gates_on_correctness_and_pays_log_of_significant_speedup():
    r = SpeedupReward(sandbox_factory=fake_sandbox)
    got = r(
        [reply(0.25), reply(1.0), reply(0.25, wrong=True), "no code here", reply(8.0)], task=[TASK_JSON] * 5
    )
    assert got[0] == pytest.approx(0.1 + math.log(4.0))
    assert got[1] == pytest.approx(0.1)  # same cost: noise earns nothing, and keeping it correct neither
    assert got[2] == pytest.approx(0.1)  # wrong: only the format term
    assert got[3] == 0.0  # no usable code
    assert got[4] == pytest.approx(0.1 - 0.5)  # much slower: clipped penalty


def test_speedup_reward_clips_huge_speedups():
    r = SpeedupReward(sandbox_factory=fake_sandbox)
    (got,) = r([reply(0.0001)], task=[TASK_JSON])
    assert got == pytest.approx(0.1 + math.log(10.0))


def test_conversational_completions_are_read_from_the_last_assistant_message():
    r = SpeedupReward(sandbox_factory=fake_sandbox)
    conv = [[{"role": "assistant", "content": reply(0.5)}]]
    assert r(conv, task=[TASK_JSON]) == r([reply(0.5)], task=[TASK_JSON])


def test_afterburner_reward_follows_the_paper_formula():
    r = AfterburnerReward(sandbox_factory=fake_sandbox)
    layout = "<thinking>faster</thinking>\n<solution>\n" + reply(0.5) + "\n</solution>"
    got = r([layout, reply(0.5), reply(0.5, wrong=True)], task=[TASK_JSON] * 3)
    eff = math.tanh((1.0 - 0.5) / 1.0)
    assert got[0] == pytest.approx(0.5 * (0.5 + 0.5 * eff) + 0.2, rel=1e-2)
    assert got[1] == pytest.approx(0.5 * (0.5 + 0.5 * eff), rel=1e-2)  # no layout: no format term
    assert got[2] == pytest.approx(0.5 * -1.0)  # broke working code


def test_afterburner_reward_fixed_and_both_fail():
    broken = Task(
        name="b",
        entry_point="f",
        code="def f(x):\n    # cost=1.0  WRONG\n    return 0\n",
        check_source="def check(c):\n    pass\n",
    )
    r = AfterburnerReward(sandbox_factory=fake_sandbox)
    fixed, still = r([reply(1.0), reply(1.0, wrong=True)], task=[json.dumps(broken.to_dict())] * 2)
    assert fixed == pytest.approx(0.5 * 1.0)  # fixed, no efficiency term against a failing baseline
    assert still == pytest.approx(0.5 * -0.5)


def test_baseline_is_checked_and_measured_once_per_task():
    r = SpeedupReward(sandbox_factory=fake_sandbox, confirm=False)
    r([reply(0.5)] * 3, task=[TASK_JSON] * 3)
    r([reply(0.5)] * 3, task=[TASK_JSON] * 3)
    baseline_calls = [c for c in FAKE.calls if "cost=1.0" in c[1]]
    assert len(baseline_calls) == 1  # one measurement of the starting code (it checks too), not 6


def test_a_sandbox_fault_on_one_completion_scores_none_not_a_crash():
    r = SpeedupReward(sandbox_factory=fake_sandbox)
    hostile = "```python\ndef f(x):\n    # cost=1 HOSTILE\n    return 0\n```"
    got = r([hostile, reply(1.0)], task=[TASK_JSON] * 2)
    assert got[0] is None and got[1] == pytest.approx(0.1)
    with pytest.raises(SandboxError):
        r([hostile, hostile], task=[TASK_JSON] * 2)


def test_rewards_are_picklable_and_named_for_trl():
    for name in ("speedup", "afterburner"):
        r = make_reward(name, repeats=2, workers=1)
        clone = pickle.loads(pickle.dumps(r))
        assert clone.__name__ == f"{name}_reward" and clone.repeats == 2


def test_unknown_reward_name_is_a_config_error():
    from afterburner.errors import ConfigError

    with pytest.raises(ConfigError, match="not one of"):
        make_reward("fastest")


def test_drift_against_the_cached_baseline_is_confirmed_interleaved_and_earns_nothing():
    r = SpeedupReward(sandbox_factory=fake_sandbox)
    FAKE.drift = 1.5  # the baseline was measured while the machine was slower
    r([reply(1.0)], task=[TASK_JSON])
    FAKE.drift = 1.0
    (same,) = r([reply(1.0)], task=[TASK_JSON])  # same code: looks 1.5x faster vs the cached baseline
    assert same == pytest.approx(0.1)
    assert any(c[0] == "compare" for c in FAKE.calls)
    unconfirmed = SpeedupReward(sandbox_factory=fake_sandbox, confirm=False)
    (fooled,) = unconfirmed([reply(1.0)], task=[TASK_JSON])
    assert fooled > 0.3  # what the confirmation protects against


def test_the_starting_code_dressed_up_is_checked_not_timed_and_earns_only_the_format_term():
    # what the 0.5B policy learned under a reward that paid for keeping the code correct
    dressed = (
        "```python\nfrom typing import *\n\ndef f(x):\n    # Plan: keep it\n    return sum(range(x))\n```"
    )
    r = SpeedupReward(sandbox_factory=fake_sandbox)
    (got,) = r([dressed], task=[TASK_JSON])
    assert got == pytest.approx(0.1)
    candidate_runs = [kind for kind, code in FAKE.calls if "typing" in code]
    assert candidate_runs == ["check"]  # no measurement of a copy
    (paper,) = AfterburnerReward(sandbox_factory=fake_sandbox)([dressed], task=[TASK_JSON])
    assert paper == pytest.approx(0.5 * 0.5)  # the paper's formula: both pass, no efficiency gained


def test_correctness_pays_where_there_was_no_correct_code_to_keep():
    broken = Task(name="b", entry_point="f", code="def f(x):\n    # cost=1.0  WRONG\n    return 0\n",
                  check_source="def check(c):\n    pass\n")  # fmt: skip
    fixed, still = SpeedupReward(sandbox_factory=fake_sandbox)(
        [reply(1.0), reply(1.0, wrong=True)], task=[json.dumps(broken.to_dict())] * 2
    )
    assert fixed == pytest.approx(1.1) and still == pytest.approx(0.1)


def test_the_rewards_log_the_share_of_each_outcome_for_the_run_tables():
    logged: dict[str, float] = {}
    dressed = "```python\ndef f(x):\n    return sum(range(x))\n```"
    SpeedupReward(sandbox_factory=fake_sandbox)(
        [reply(0.25), dressed, reply(1.0, wrong=True), "no code here"],
        task=[TASK_JSON] * 4,
        log_metric=lambda name, value: logged.__setitem__(name, value),
    )
    assert logged == {
        "sandbox/pass_rate": 0.5,
        "sandbox/improved_rate": 0.25,
        "sandbox/unchanged_rate": 0.25,
        "sandbox/format_error_rate": 0.25,
    }


def test_each_reply_gets_one_verdict_of_the_first_round_table():
    from training.rewards import VERDICTS, Outcome

    got = [
        Outcome(False, False, "format_error", True).verdict,
        Outcome(True, True, "unchanged", True, 1.0).verdict,
        Outcome(True, False, "timeout", True).verdict,
        Outcome(True, True, "passed", True, 1.02).verdict,
        Outcome(True, True, "passed", True, 3.0, improved=True).verdict,
    ]
    assert tuple(got) == VERDICTS
