"""The profile names the call a hot line spends its time in: a C function, or library Python code."""

from __future__ import annotations

import pytest

from afterburner.sandbox import Sandbox, SandboxConfig
from afterburner.task import Case, Task

pytestmark = pytest.mark.integration

np = pytest.importorskip("numpy")

CODE = (
    "import numpy as np\n"
    "\n"
    "def helper(x):\n"
    "    return np.sort(x)\n"
    "\n"
    "def f(rows):\n"
    "    total = 0.0\n"
    "    for r in rows:\n"
    "        a = np.array(r)\n"
    "        total += float(helper(a)[-1])\n"
    "    return total\n"
)


def callee_ok(inner: str) -> bool:
    return inner.startswith("numpy") and inner.endswith(".sort")  # numpy's Python wrapper of the sort


def test_hot_lines_name_their_callee_and_the_library_function_it_ran():
    rows = [[float((i * 7919 + j * 104729) % 1000) for j in range(400)] for i in range(600)]
    t = Task(name="conv", entry_point="f", code=CODE, workload_inputs=(Case((rows,)),))
    with Sandbox(SandboxConfig(min_repeats=1, max_repeats=3), workers=1) as sb:
        m = sb.measure(t, repeats=1, profile=True)
    assert m.ok, m.failure
    share: dict[tuple, float] = {}
    for c in m.profile.calls:
        key = (c["line"], c["callee"], c["inner"])
        share[key] = share.get(key, 0.0) + c["share"]
    assert share.get((9, "np.array", ""), 0.0) > 0.2  # a C function: no Python frame of its own
    [sort_inner] = {inner for (line, callee, inner), x in share.items() if line == 4 and x > 0.05}
    assert callee_ok(sort_inner)
    text = m.profile.text()
    assert "Time inside calls" in text and "np.array" in text
    assert m.to_dict()["profile"]["calls"]  # the trajectory keeps them
