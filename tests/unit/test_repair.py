"""Putting back the setup lines a model's rewrite dropped (afterburner.agent.repair)."""

from __future__ import annotations

import numpy as np

from afterburner.agent.repair import restore_setup

ORIGINAL = '''import numpy as np


def acovf(x, demean=True):
    """Autocovariances of x."""
    xo = np.asarray(x, dtype=float).squeeze()
    if xo.ndim != 1:
        raise ValueError("x must be 1-d")
    n = len(xo)
    if demean:
        xo = xo - xo.mean()
    return np.correlate(xo, xo, "full")[n - 1 :] / n
'''


def run(code: str, *args):
    ns: dict = {}
    exec(compile(code, "<candidate>", "exec"), ns)
    return ns["acovf"](*args)


def test_a_dropped_conversion_and_length_are_put_back_and_the_code_runs():
    candidate = ORIGINAL.replace("    xo = np.asarray(x, dtype=float).squeeze()\n", "").replace(
        "    n = len(xo)\n", ""
    )
    fixed, names = restore_setup(candidate, ORIGINAL, "acovf")
    assert names == ["n", "xo"]
    x = [1.0, 2.0, 4.0, 3.0]
    assert np.allclose(run(fixed, x), run(ORIGINAL, x))


def test_a_name_read_before_the_candidate_binds_it_unbound_local():
    candidate = ORIGINAL.replace(
        '    xo = np.asarray(x, dtype=float).squeeze()\n    if xo.ndim != 1:\n        raise ValueError("x must be 1-d")\n',
        "",
    )  # `n = len(xo)` now reads xo before `xo = xo - xo.mean()` binds it
    fixed, names = restore_setup(candidate, ORIGINAL, "acovf")
    assert names == ["xo"]
    assert np.allclose(run(fixed, [1.0, 5.0, 2.0]), run(ORIGINAL, [1.0, 5.0, 2.0]))


def test_complete_code_is_left_alone():
    assert restore_setup(ORIGINAL, ORIGINAL, "acovf") == (ORIGINAL, [])
    faster = ORIGINAL.replace(
        'np.correlate(xo, xo, "full")[n - 1 :]', 'np.correlate(xo, xo, "full")[len(xo) - 1 :]'
    )
    assert restore_setup(faster, ORIGINAL, "acovf") == (faster, [])


def test_module_names_builtins_loop_and_comprehension_variables_are_not_missing():
    original = (
        "LIMIT = 3\n\ndef f(xs):\n    out = []\n    for x in xs:\n        out.append(x)\n    return out\n"
    )
    candidate = (
        "LIMIT = 3\n\ndef f(xs):\n    return [min(x, LIMIT) for x in xs if (y := x)] + [lambda z: z]\n"
    )
    assert restore_setup(candidate, original, "f") == (candidate, [])


def test_a_name_the_original_binds_only_inside_a_loop_is_not_restored():
    original = "def f(xs):\n    for x in xs:\n        total = x\n    return total\n"
    candidate = "def f(xs):\n    return total\n"
    assert restore_setup(candidate, original, "f") == (candidate, [])


def test_a_method_gets_its_setup_back_above_its_plan_comment():
    original = "class Rod:\n    def run(self, u):\n        a = 2 * u\n        b = a + 1\n        return b\n"
    candidate = "class Rod:\n    def run(self, u):\n        # Plan: fewer steps\n        return b\n"
    fixed, names = restore_setup(candidate, original, "Rod.run")
    assert names == ["b"]
    assert "        a = 2 * u\n        b = a + 1\n        # Plan: fewer steps\n" in fixed
    ns: dict = {}
    exec(fixed, ns)
    assert ns["Rod"]().run(3) == 7
