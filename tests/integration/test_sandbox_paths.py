"""A checkout, its venv or a task's data below the host's /tmp (where people clone a project to try it)
works in the sandbox: the path is bound read-only inside the sandbox's own /tmp, the wipe between runs
leaves that mount alone without retiring the worker, and a cache written beside it is still wiped.
"""

from __future__ import annotations

import shutil
import textwrap

import pytest

from afterburner.sandbox import Sandbox, SandboxConfig
from afterburner.task import Case, Task

pytestmark = pytest.mark.integration

SLOW = textwrap.dedent(
    """
    def total(n):
        s = 0
        for i in range(n):
            s += i * SCALE
        return s
    """
)
# the data file is read from the bound path at import: a candidate module can only run if it is there
READ_DATA = "SCALE = int(open(DATA).read())\n"
# a cache beside the bound path, and in /tmp: whichever the candidate can write to survives nothing
CACHED = textwrap.dedent(
    """
    import os
    def total(n):
        for d in (os.path.dirname(os.path.dirname(DATA)), os.path.dirname(DATA), "/tmp"):
            f = os.path.join(d, f"cache-{n}")
            if os.path.exists(f):
                return int(open(f).read())
        s = 0
        for i in range(n):
            s += i * SCALE
        for d in (os.path.dirname(os.path.dirname(DATA)), os.path.dirname(DATA), "/tmp"):
            try:
                with open(os.path.join(d, f"cache-{n}"), "w") as out:
                    out.write(str(s))
            except OSError:
                continue
        return s
    """
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("checkout") / "data"
    if not str(d).startswith("/tmp/"):
        pytest.skip("pytest's temporary directory is not below /tmp here")
    d.mkdir()
    (d / "scale.txt").write_text("3")
    return d


@pytest.fixture(scope="module", params=["bwrap", "none"])
def sb(request, data):
    if request.param == "bwrap" and not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    cfg = SandboxConfig(min_repeats=3, max_repeats=3, isolation=request.param, readonly_paths=(str(data),))
    with Sandbox(cfg, workers=1) as s:
        yield s


def task(data, code: str = SLOW) -> Task:
    head = f"DATA = {str(data / 'scale.txt')!r}\n" + READ_DATA
    return Task(
        name="total",
        entry_point="total",
        code=head + code,
        cases=(Case((10,), {}, 135, True),),
        workload_inputs=(Case((200_000,)),),
    )


def test_a_bound_path_below_tmp_is_readable_and_the_worker_stays(sb, data):
    t = task(data)
    first = sb.pool._workers[0]
    for _ in range(3):
        m = sb.measure(t, repeats=3)
        assert m.ok, m.failure
    assert sb.pool._workers[0] is first and first.alive(), "the wipe retired a worker for a read-only mount"


def test_a_cache_beside_the_bound_path_does_not_survive(sb, data):
    t = task(data)
    c = sb.compare(t, t.code, task(data, CACHED).code, repeats=3)
    assert c.b.ok, c.b.failure
    assert not c.improved and c.speedup < 2.0, f"a {c.speedup:.1f}x speedup from a cache"
