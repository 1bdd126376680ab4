"""The focused reply (agent.focus) and the decoding that may not begin it as the original (llm.avoid)."""

from afterburner.agent.focus import focus
from afterburner.agent.optimizer import Optimizer
from afterburner.llm.avoid import banned_tokens, token_index
from afterburner.task import Task
from afterburner.trajectory import read_trajectory
from tests.unit.fakes import FakeSandbox
from tests.unit.test_graph import ORIGINAL
from tests.unit.test_prefill import ContinuingBackend

MODULE = '''import numpy as np


def block_mean(a, b):
    """Means of b x b blocks."""
    rows, cols = a.shape[0] // b, a.shape[1] // b
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = a[i * b:(i + 1) * b, j * b:(j + 1) * b].mean()
    return out


def other():
    return 1
'''


def test_the_reply_starts_at_the_outermost_loop_around_the_hottest_line():
    f = focus(MODULE, "block_mean", [{"line": 10, "share": 0.9}, {"line": 6, "share": 0.05}])
    assert f.prefill.endswith("    out = np.zeros((rows, cols))\n")
    assert f.prefill.startswith('```python\ndef block_mean(a, b):\n    """Means')
    assert "for i" not in f.prefill
    assert f.avoid == "    for " and f.line == 8


def test_a_hot_line_outside_a_loop_is_avoided_as_a_whole_line():
    f = focus(MODULE, "block_mean", [{"line": 7, "share": 0.7}])
    assert f.avoid == "    out = np.zeros((rows, cols))"
    assert f.prefill.endswith("rows, cols = a.shape[0] // b, a.shape[1] // b\n")


def test_no_focus_without_a_hot_line_in_the_target():
    assert focus(MODULE, "block_mean", [{"line": 15, "share": 1.0}]) is None  # in another function
    assert focus(MODULE, "block_mean", []) is None
    assert focus("def f(:\n", "f", [{"line": 1, "share": 1.0}]) is None


def test_a_method_target_is_prefilled_from_its_class():
    code = "class C:\n    x = 1\n\n    def m(self, n):\n        t = 0\n        while n:\n            n -= 1\n        return t\n"
    f = focus(code, "C.m", [{"line": 7, "share": 1.0}])
    assert f.prefill == "```python\nclass C:\n    x = 1\n\n    def m(self, n):\n        t = 0\n"
    assert f.avoid == "        while "


def test_a_loop_inside_an_if_or_try_is_found():
    code = "def f(xs):\n    try:\n        if xs:\n            for x in xs:\n                x += 1\n    except ValueError:\n        pass\n"
    assert focus(code, "f", [{"line": 5, "share": 1.0}]).avoid == "            for "


STRINGS = ["    ", "   ", " for", "for", "f", "fo", "out", " =", "\n", "for ", "while"]
INDEX = token_index(STRINGS)


def _texts(ids):
    return sorted(STRINGS[i] for i in ids)


def test_the_tokens_that_would_begin_the_avoided_start_are_banned_but_indentation_is_not():
    assert _texts(banned_tokens("", "    for ", INDEX)) == []  # only whitespace reaches into it
    assert _texts(banned_tokens("    ", "    for ", INDEX)) == ["f", "fo", "for", "for "]
    assert _texts(banned_tokens("   ", "    for ", INDEX)) == [" for"]


def test_nothing_is_banned_once_the_reply_went_another_way():
    assert banned_tokens("    out", "    for ", INDEX) == []
    assert banned_tokens("    for x", "    for ", INDEX) == []


class AvoidingBackend(ContinuingBackend):
    """The scripted backend, as a model that continues a prefilled reply and honours its `avoid`."""

    avoids = True


def test_the_loop_sends_half_of_the_samples_focused_and_records_them(tmp_path):
    task = Task(name="dedupe", entry_point="dedupe", code=ORIGINAL, check_source="def check(c): pass\n")
    focused_body = '    _ = "# speed: 4"\n    return list(dict.fromkeys(xs))\n```\n'
    echo = "\n" + "".join(ORIGINAL.splitlines(keepends=True)[1:]) + "```\n"
    backend = AvoidingBackend(replies=[echo, focused_body])
    opt = Optimizer(backend=backend, sandbox=FakeSandbox(), out_dir=tmp_path, candidates=2, rounds=1)
    res = opt.run(task)
    plain, focused = backend.calls
    assert plain[-1] == {"role": "assistant", "content": "```python\ndef dedupe(xs):"}
    # the fake profile's hot line is `if x not in seen:`: the reply starts at the loop around it
    assert focused[-1] == {
        "role": "assistant",
        "content": "```python\ndef dedupe(xs):\n    seen = []\n    out = []\n",
        "avoid": "    for ",
    }
    assert res.status == "improved" and "dict.fromkeys" in res.best_code
    steps = read_trajectory(res.trajectory_path).steps
    assert [(s["focused"], s["outcome"]) for s in steps] == [(False, "unchanged"), (True, "faster")]
    assert steps[1]["completion"].startswith(focused[-1]["content"] + '    _ = "# speed: 4"')


def test_a_backend_that_cannot_avoid_gets_the_focused_prefill_alone(tmp_path):
    task = Task(name="dedupe", entry_point="dedupe", code=ORIGINAL, check_source="def check(c): pass\n")
    backend = ContinuingBackend(replies=["x", "y"])
    Optimizer(backend=backend, sandbox=FakeSandbox(), out_dir=tmp_path, candidates=2, rounds=1).run(task)
    assert "avoid" not in backend.calls[1][-1] and "    out = []\n" in backend.calls[1][-1]["content"]
