"""The rewards with the real sandbox: correct-and-faster pays, hostile code costs its timeout only."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from afterburner.task import load_task_file
from training.rewards import AfterburnerReward, SpeedupReward

pytestmark = pytest.mark.integration

TASKS = Path(__file__).resolve().parents[1] / "data" / "train_tasks"
FAST = "```python\ndef sum_squares(n):\n    return (n - 1) * n * (2 * n - 1) // 6\n```"
WRONG = "```python\ndef sum_squares(n):\n    return n\n```"
HANG = "```python\ndef sum_squares(n):\n    while True:\n        pass\n```"
EXIT = "```python\nimport os\ndef sum_squares(n):\n    os._exit(3)\n```"


@pytest.fixture(scope="module")
def task_json():
    return json.dumps(load_task_file(TASKS / "sum_squares.yaml").to_dict())


def test_speedup_reward_with_the_real_sandbox(task_json):
    reward = SpeedupReward(repeats=3, workers=2, sandbox={"timeout_s": 2.0})
    t0 = time.monotonic()
    fast, wrong, hang, exit_, garbage = reward([FAST, WRONG, HANG, EXIT, "blah"], task=[task_json] * 5)
    elapsed = time.monotonic() - t0
    assert fast > 0.1 + 0.5  # correct and clearly faster (closed form vs a 300000-step loop)
    assert wrong == pytest.approx(0.1) and hang == pytest.approx(0.1) and exit_ == pytest.approx(0.1)
    assert garbage == 0.0
    assert elapsed < 60  # the hanging candidate cost its timeout, not the run


def test_afterburner_reward_with_the_real_sandbox(task_json):
    reward = AfterburnerReward(repeats=3, workers=2, sandbox={"timeout_s": 2.0})
    layout = f"<thinking>closed form</thinking>\n<solution>\n{FAST}\n</solution>"
    good, broke = reward([[{"role": "assistant", "content": layout}], WRONG], task=[task_json] * 2)
    assert good > 0.5 * (0.5 + 0.5 * 0.5) + 0.2  # both pass, efficiency tanh((b-c)/b) > 0.5, format term
    assert broke == pytest.approx(-0.5)
