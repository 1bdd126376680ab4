"""Without bubblewrap the sandbox still works: a real `afterburner measure` with bwrap hidden from PATH.

In CI this runs as root with a pyenv Python under /root (mode 0700): the fallback's sandbox user (uid
65534) could not even import the standard library there until the fallback made the prefix reachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _private_ancestor(path: str) -> str | None:
    parts = Path(os.path.realpath(path)).parts
    for i in range(2, len(parts) + 1):
        anc = str(Path(*parts[:i]))
        if not os.stat(anc).st_mode & 0o001:
            return anc
    return None


def test_measure_runs_without_bubblewrap(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # no bwrap (nor anything else) on PATH
    env.pop("PYTHONPATH", None)
    ex = ROOT / "examples"
    cmd = [
        sys.executable,
        "-m",
        "afterburner",
        "measure",
        f"{ex}/duplicates.py::find_duplicates",
        "--tests",
        f"{ex}/duplicates_tests.py",
        "--workload",
        f"{ex}/duplicates_workload.py",
        "--repeats",
        "3",
        "--json",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads(r.stdout)
    assert m["status"] == "passed" and m["cpu_time_s"]["n"] == 3 and m["cpu_time_s"]["median"] > 0
    assert m["details"]["isolation"] == "none"
    assert "bubblewrap" in r.stderr  # the one warning says what is missing and what it costs
    if os.geteuid() == 0:
        private = _private_ancestor(sys.base_prefix)
        print(f"Python at {sys.base_prefix}, private ancestor: {private}")
