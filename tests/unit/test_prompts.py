"""Prompt templates: strict rendering, the target function cut out of its module, conversations."""

from __future__ import annotations

import pytest

from afterburner.agent.remedies import Remedy
from afterburner.errors import ConfigError
from afterburner.prompts import (
    initial_conversation,
    prompts_dir,
    refine_conversation,
    render,
    render_remedy,
    target_source,
)
from afterburner.task import Task

MODULE = '''"""A module."""
import math
from collections import Counter

LIMIT = 10


def helper(x):
    return math.sqrt(x)


def unrelated():
    return 1


def target(xs):
    return [helper(x) for x in xs if x < LIMIT]


class Solution:
    def twoSum(self, nums, t):
        return [0, 1]
'''


def test_templates_ship_in_the_prompts_dir():
    names = {p.stem for p in prompts_dir().glob("*.j2")}
    assert {"system", "optimize", "refine", "remedy", "afterburner_system", "afterburner_refine"} <= names


def test_a_missing_variable_is_an_error_not_an_empty_string():
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("optimize", description="")
    with pytest.raises(ConfigError, match="no prompt template"):
        render("no_such_template")


def test_target_source_is_the_function_and_what_it_uses():
    fn, ctx = target_source(MODULE, "target")
    assert fn.startswith("def target(xs):") and "unrelated" not in fn
    assert "def helper" in ctx and "LIMIT = 10" in ctx and "import math" in ctx
    assert "def unrelated" not in ctx
    cls, _ = target_source(MODULE, "Solution().twoSum")
    assert cls.startswith("class Solution") and "twoSum" in cls
    assert target_source("def broken(:", "broken") == ("def broken(:", "")


@pytest.mark.parametrize(
    "goal, phrase",
    [("time", "less CPU time"), ("memory", "less peak memory"), ("both", "memory-time integral")],
)
def test_initial_conversation_asks_for_the_function_alone_with_the_goal(goal, phrase):
    task = Task(name="t", entry_point="target", code=MODULE, description="Square roots below a limit.")
    conv = initial_conversation(task, "default", goal)
    assert [m["role"] for m in conv] == ["system", "user"]
    user = conv[1]["content"]
    assert "def target(xs):" in user and "def unrelated" not in user and phrase in user
    assert "Square roots below a limit." in user and "the function alone" in user


def test_paper_strategy_uses_thinking_solution_format_and_one_line_feedback():
    task = Task(name="t", entry_point="target", code=MODULE)
    conv = initial_conversation(task, "afterburner")
    assert "<thinking>" in conv[0]["content"] and "<solution>" in conv[1]["content"]
    conv = refine_conversation(task, MODULE, "afterburner", feedback="Passed: True, Time: 1 ms")
    assert "Feedback: Passed: True, Time: 1 ms" in conv[1]["content"]


def test_from_description_task_asks_to_write_the_function():
    task = Task(name="t", entry_point="Solution().twoSum", code="", description="Find two indices.")
    user = initial_conversation(task)[1]["content"]
    assert "Write `twoSum`" in user and "Find two indices." in user and "class `Solution`" in user


def test_unknown_goal_is_a_config_error():
    task = Task(name="t", entry_point="target", code=MODULE)
    with pytest.raises(ConfigError, match="goal"):
        initial_conversation(task, goal="speed")


def test_remedy_names_the_hot_line_by_its_text_and_share():
    code = "def f(q):\n    while q:\n        q.pop(0)\n"
    text = render_remedy(Remedy("pop_front", 3, 3, {"sequence": "q", "method": "pop"}, 0.62), code)
    assert "`q.pop(0)`" in text and "62%" in text and "collections.deque" in text and "popleft()" in text


def test_all_pairs_remedy_covers_pairs_no_set_can_find():
    # container-with-most-water compares all pairs by area: a set does not help, two pointers do
    code = (
        "def f(h):\n    for i in range(len(h)):\n        for j in range(i + 1, len(h)):\n            pass\n"
    )
    text = render_remedy(Remedy("nested_pairs", 3, 4, {"sequence": "h"}, 0.9), code)
    assert "set" in text and "two pointers" in text and "running best" in text
