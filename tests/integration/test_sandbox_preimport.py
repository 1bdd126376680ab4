"""The warm worker imports the heavy libraries a task's module names (numpy, scipy) before it forks the
timed child, so a numeric function's measured CPU time is its own, not numpy's or scipy's import."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from afterburner.sandbox import Sandbox, SandboxConfig
from afterburner.task import Task

pytestmark = pytest.mark.integration

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "afterburner" / "sandbox"))
from worker import heavy_imports  # noqa: E402  (the worker is a script run by the pool, not a module)

sys.path.pop(0)

# the module records, as it starts, whether numpy was already imported (by the worker) before its own import
CODE = """import sys
ALREADY = "numpy" in sys.modules
import numpy as np


def f(n):
    return [ALREADY, int(np.arange(n).sum())]
"""


def test_heavy_imports_reads_the_import_forms_people_write():
    src = (
        "import numpy as np\nimport os, scipy.linalg as la  # solver\nfrom scipy import signal, ndimage as ndi\n"
        "    from scipy.spatial.distance import cdist\nimport numpyish\nfrom pandas import (DataFrame,\n"
    )
    assert heavy_imports(src) == [
        "numpy",
        "scipy.linalg",
        "scipy",
        "scipy.signal",
        "scipy.ndimage",
        "scipy.spatial.distance",
        "scipy.spatial.distance.cdist",
        "pandas",
        "pandas.DataFrame",
    ]
    assert heavy_imports("import re\nfrom collections import Counter\n") == []


@pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="numpy is not installed")
def test_a_module_that_imports_numpy_finds_it_already_imported_in_the_timed_child():
    task = Task(
        name="np-sum",
        entry_point="f",
        code=CODE,
        # the tests fail unless numpy was imported before the module's own `import numpy`
        check_source="def check(candidate):\n    assert candidate(4) == [True, 6]\n",
        workload_source="def generate(n, seed):\n    return (n,), {}\n",
        sizes=(10,),
    )
    with Sandbox(SandboxConfig(min_repeats=1, max_repeats=3), workers=1) as sb:
        checked = sb.check(task)
        assert checked.passed, checked
        measured = sb.measure(task, repeats=1)
        assert measured.ok, measured
        # nothing named scipy, so no scipy: the worker imports only what a job's sources name
        plain = Task(
            name="plain",
            entry_point="f",
            code="import sys\n\ndef f():\n    return 'scipy' in sys.modules\n",
            check_source="def check(candidate):\n    assert candidate() is False\n",
        )
        assert sb.check(plain).passed
