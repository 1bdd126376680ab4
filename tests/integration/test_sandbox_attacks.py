"""Hostile candidates, one property each: every attack ends with the right status and nothing running.

Each runs against every backend: bubblewrap, the fallback without it ("none") and docker (skipped when
its engine or image is missing); the properties that need namespaces skip where the backend has none.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import textwrap
from pathlib import Path

import pytest

from afterburner.sandbox import Sandbox, SandboxConfig, Status
from afterburner.task import Case, Task

pytestmark = pytest.mark.integration

ORACLE = "def f(n):\n    return n * 2\n"


def task(**kw) -> Task:
    base = dict(
        name="double",
        entry_point="f",
        code=ORACLE,
        cases=(Case((3,), {}, 6, True),),
        workload_inputs=(Case((5,)),),
    )
    base.update(kw)
    return Task(**base)


@pytest.fixture(scope="module", params=["bwrap", "none", "docker"])
def sb(request):
    if request.param == "bwrap" and not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    if request.param == "docker":  # the same attacks in warm containers (skips without dockerd or its image)
        from afterburner.sandbox.docker_backend import unavailable_reason

        if why := unavailable_reason():
            pytest.skip(f"docker sandbox unavailable: {why}")
    with Sandbox(
        SandboxConfig(
            timeout_s=2.0, memory_bytes=1 << 30, min_repeats=3, max_repeats=3, isolation=request.param
        ),
        workers=1,
    ) as s:
        yield s


@pytest.fixture(autouse=True)
def nothing_left_running(sb):
    yield
    assert sb.pool.stray_processes() == [], "a candidate left processes running"
    assert sb.check(task(), ORACLE).passed, "the sandbox does not work after the attack"


def needs_namespaces(sb):
    # the fallback makes its own mount and network namespaces when it runs as root
    if sb.isolation not in ("bwrap", "docker") and os.geteuid() != 0:
        pytest.skip("needs namespaces: without bubblewrap, as a normal user, the sandbox has limits only")


def run(sb, body: str):
    return sb.check(task(), textwrap.dedent(body))


def test_infinite_loop_times_out(sb):
    r = run(sb, "def f(n):\n    while True:\n        pass\n")
    assert r.status is Status.TIMEOUT


def test_sleeping_loop_times_out_on_wall_clock(sb):
    r = run(sb, "import time\ndef f(n):\n    while True:\n        time.sleep(0.1)\n")
    assert r.status is Status.TIMEOUT
    assert r.cpu_time_s < 1.0  # the CPU limit alone would never have stopped it


def test_fork_bomb_is_contained_and_killed(sb):
    r = run(
        sb,
        """
        import os
        def f(n):
            while True:
                try:
                    if os.fork() == 0:
                        os.setsid()  # try to escape the process group
                except OSError:
                    pass
        """,
    )
    assert r.status in (Status.TIMEOUT, Status.RUNTIME_ERROR)


def test_memory_bomb(sb):
    r = run(sb, "def f(n):\n    return len(' ' * (1 << 34))\n")  # 16 GiB, over the 1 GiB limit
    assert r.status is Status.MEMORY_EXCEEDED


def test_output_flood(sb):
    r = run(sb, "def f(n):\n    while True:\n        print('spam' * 1000)\n")
    assert r.status is Status.OUTPUT_EXCEEDED


def test_writing_outside_the_work_dir_fails(sb):
    needs_namespaces(sb)
    host_dir = tempfile.mkdtemp(dir="/var/tmp")  # outside /tmp, which the sandbox replaces with its own
    os.chmod(host_dir, 0o777)
    target = Path(host_dir) / "pwned"
    r = run(
        sb,
        f"""
        def f(n):
            open({str(target)!r}, "w").write("x")
            return n * 2
        """,
    )
    assert r.status is Status.RUNTIME_ERROR
    # bwrap and docker: the host's /var/tmp is not even there (a fresh root with only what Python needs)
    assert "Read-only file system" in r.failure.error or "No such file or directory" in r.failure.error
    assert not target.exists()
    shutil.rmtree(host_dir)


def test_connecting_to_a_local_listener_fails(sb):
    needs_namespaces(sb)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.5)
        port = server.getsockname()[1]
        r = run(
            sb,
            f"""
            import socket
            def f(n):
                socket.create_connection(("127.0.0.1", {port}), timeout=1).sendall(b"hello")
                return n * 2
            """,
        )
        assert r.status is Status.RUNTIME_ERROR
        with pytest.raises(TimeoutError):
            server.accept()


@pytest.mark.parametrize("kill", ["os.kill(os.getppid(), signal.SIGKILL)", "os.kill(-1, signal.SIGKILL)"])
def test_killing_the_worker_is_a_sandbox_error(sb, kill):
    zygotes = sb.pool.zygote_pids()
    r = run(sb, f"import os, signal\ndef f(n):\n    {kill}\n    return n * 2\n")
    if sb.isolation == "docker" and r.status is not Status.SANDBOX_ERROR:
        # docker: if the process signalled is PID 1 of its container, no signal from inside reaches it
        assert r.status in (Status.PASSED, Status.RUNTIME_ERROR) and sb.pool.zygote_pids() == zygotes
        return
    assert r.status is Status.SANDBOX_ERROR
    assert "killed the sandbox worker" in r.failure.error


def test_stopping_the_worker_is_a_sandbox_error_and_it_is_replaced(sb):
    zygotes = sb.pool.zygote_pids()
    r = run(sb, "import os, signal\ndef f(n):\n    os.kill(os.getppid(), signal.SIGSTOP)\n    return n * 2\n")
    if sb.isolation == "docker" and r.status is not Status.SANDBOX_ERROR:
        # docker: if the process stopped is PID 1 of its container, SIGSTOP from inside is ignored
        assert r.passed and sb.pool.zygote_pids() == zygotes
        return
    assert r.status is Status.SANDBOX_ERROR
    assert "stopped answering" in r.failure.error


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)", "raise SystemExit(1)"])
def test_exiting_inside_the_candidate_is_a_runtime_error(sb, exit_call):
    r = run(sb, f"import os, sys\ndef f(n):\n    {exit_call}\n")
    assert r.status is Status.RUNTIME_ERROR


def test_patching_the_timer_does_not_change_cpu_time(sb):
    busy = "def f(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return n * 2\n"
    liar = (
        "import time, resource\n"
        + "".join(
            f"time.{name} = lambda *a: 0.0\n"
            for name in ("time", "perf_counter", "process_time", "monotonic")
        )
        + "resource.getrusage = lambda *a: None\n"
        + busy
    )
    t = task(code=busy, workload_inputs=(Case((300_000,)),))
    honest, patched = sb.measure(t, busy, repeats=3), sb.measure(t, liar, repeats=3)
    assert honest.ok and patched.ok
    assert patched.cpu_time_s.median > 0.5 * honest.cpu_time_s.median > 0


def test_always_equal_object_is_a_wrong_answer(sb):
    r = run(
        sb,
        """
        class Yes(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
        def f(n):
            return Yes(n * 2 + 1)
        """,
    )
    assert r.status is Status.WRONG_ANSWER


def test_always_equal_object_fails_check_tests_too(sb):
    t = task(cases=(), check_source="def check(candidate):\n    assert candidate(3) == 6\n")
    r = sb.check(
        t, "class Yes:\n    def __eq__(self, o):\n        return True\ndef f(n):\n    return Yes()\n"
    )
    assert r.status is Status.WRONG_ANSWER
    assert r.details["check_mode"] == "replay"


FORGED_RESULT = """
import json, os, struct
def f(n):
    for status in ("passed", "ok"):
        body = json.dumps({"status": status, "outputs": [], "digest": "", "n": 0}).encode()
        os.write(3, struct.pack("<I", len(body)) + body)
        os._exit(0)
"""


def test_a_forged_result_message_cannot_pass(sb):
    r = run(sb, FORGED_RESULT)
    assert r.status is Status.RUNTIME_ERROR
    assert "unknown status" in r.failure.error


FORGE_WHEN = """
import json, os, struct, sys
def forge(header):
    body = json.dumps(header).encode()
    os.write(3, struct.pack("<I", len(body)) + body)
    os._exit(0)
def f(n):
    job = sys._getframe(1).f_locals.get("job", {})  # the harness's job: is this a timed or traced run?
    if WHEN:
        forge(HEADER)
    return n * 2
"""


def test_forged_results_in_timed_runs_are_caught(sb):
    code = FORGE_WHEN.replace("WHEN", 'not job.get("outputs", True) and not job.get("memory")').replace(
        "HEADER", '{"status": "ok", "digest": 123, "rss_start": "x", "n": 0}'
    )
    m = sb.measure(task(), code, repeats=3)
    assert m.status is Status.WRONG_ANSWER  # its digest is not the checked outputs' digest


def test_forged_results_in_memory_runs_do_not_break_the_measurement(sb):
    code = FORGE_WHEN.replace("WHEN", 'job.get("memory")').replace(
        "HEADER", '{"status": "ok", "samples": "x", "prof_lines": 7}'
    )
    m = sb.measure(task(), code, repeats=3)
    # the forged traced figures are dropped: the peak is the kernel's (wait4), as in the timed runs
    assert m.ok and m.peak_memory_bytes == m.peak_rss_bytes and m.cpu_time_s.n == 3


CACHE_IN_MEMORY = """
import builtins, sys
def f(n):
    seen = hasattr(sys, "_afterburner_cache") or hasattr(builtins, "_afterburner_cache")
    sys._afterburner_cache = builtins._afterburner_cache = True
    return n * 2 + (1 if seen else 0)
"""

CACHE_IN_FILES = """
import os
PLACES = ["cache.txt", os.path.expanduser("~/cache.txt"), "/tmp/cache.txt", "/dev/shm/cache.txt"]
def f(n):
    seen = any(os.path.exists(p) for p in PLACES)
    for p in PLACES:
        try:
            open(p, "w").write("answer")
        except OSError:
            pass
    return n * 2 + (1 if seen else 0)
"""


@pytest.mark.parametrize("code", [CACHE_IN_MEMORY, CACHE_IN_FILES], ids=["memory", "files"])
def test_nothing_carries_over_between_repetitions(sb, code):
    m = sb.measure(task(cases=()), code, repeats=4)
    assert m.status is Status.PASSED  # every timed run gave the first run's answer: no cache was found
    assert m.cpu_time_s.n == 4


def test_recursion_overflow_is_a_runtime_error(sb):
    r = run(sb, "def f(n):\n    return f(n + 1)\n")
    assert r.status is Status.RUNTIME_ERROR
    assert "RecursionError" in r.failure.error


def test_syntax_error(sb):
    r = run(sb, "def f(n)\n    return n\n")
    assert r.status is Status.SYNTAX_ERROR
    assert "SyntaxError" in r.failure.error


def test_non_utf8_output_is_harmless(sb):
    r = run(
        sb,
        "import sys\ndef f(n):\n    sys.stdout.buffer.write(b'\\xff\\xfe bad \\x80')\n"
        "    sys.stdout.flush()\n    return n * 2\n",
    )
    assert r.status is Status.PASSED
    assert "bad" in r.stdout_tail


def test_non_utf8_string_result_is_compared_not_crashed(sb):
    r = run(sb, "def f(n):\n    return '\\udcff'\n")
    assert r.status is Status.WRONG_ANSWER
