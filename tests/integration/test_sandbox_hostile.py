"""The nine ways a candidate fooled the sandbox (issue 14), each written from its description, against
every backend; and the same candidates through the training reward.

Each candidate keeps the original quadratic search and tries to cache or hide its work (or to forge its
verdict). Each test asserts the status and that no speedup is claimed. Backends: bwrap, the fallback
without bubblewrap ("none"), and any added to `BACKENDS` (docker: see `docker_backend`).
"""

from __future__ import annotations

import os
import platform
import tempfile
import textwrap
import uuid

import pytest

from afterburner.sandbox import Sandbox, SandboxConfig, Status
from afterburner.task import Case, Task

pytestmark = pytest.mark.integration

BACKENDS = ["bwrap", "none"]  # a docker backend is appended here when its engine is reachable
try:
    from afterburner.sandbox.docker_backend import unavailable_reason

    if not unavailable_reason():
        BACKENDS.append("docker")
except ImportError:
    pass

SLOW = textwrap.dedent(
    """
    def _slow(xs):
        n = len(xs)
        for i in range(n):
            for j in range(i + 1, n):
                if xs[i] == xs[j]:
                    return True
        return False
    """
)
ORIGINAL = SLOW + "\ndef has_dup(xs):\n    return _slow(xs)\n"
N = 1000


def task(**kw) -> Task:
    base = dict(
        name="has-dup",
        entry_point="has_dup",
        code=ORIGINAL,
        cases=(Case(([1, 2, 1],), {}, True, True), Case(([1, 2, 3],), {}, False, True)),
        workload_inputs=(Case((list(range(N)),)), Case(([*range(N), 5],))),
    )
    base.update(kw)
    return Task(**base)


@pytest.fixture(scope="module", params=BACKENDS)
def sb(request):
    if request.param == "bwrap" and not __import__("shutil").which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    cfg = SandboxConfig(
        timeout_s=5.0, memory_bytes=1 << 30, min_repeats=3, max_repeats=3, isolation=request.param
    )
    with Sandbox(cfg, workers=1) as s:
        yield s


@pytest.fixture(autouse=True)
def sandbox_still_sound(sb):
    yield
    assert sb.pool.stray_processes() == [], "a candidate left processes running"
    assert sb.check(task()).passed, "the sandbox does not work after the attack"


def candidate(body: str) -> str:
    return SLOW + textwrap.dedent(body)


def no_speedup(sb, code: str, status: Status = Status.PASSED):
    """Compare against the original: the candidate's status, and no speedup claimed."""
    c = sb.compare(task(), ORIGINAL, code, repeats=3)
    assert c.b.status is status, c.b.failure
    assert not c.improved
    if status is Status.PASSED:
        assert c.speedup < 2.0, f"a {c.speedup:.1f}x speedup from the same algorithm"
    return c


SYSCALLS = {"x86_64": {"add_key": 248, "keyctl": 250}, "aarch64": {"add_key": 217, "keyctl": 219}}

# 1. a result cache in a SysV shared-memory segment
SHM_CACHE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
KEY = KEYVALUE
def has_dup(xs):
    shmid = libc.shmget(KEY, 4096, 0o1666)
    if shmid >= 0:
        p = libc.shmat(shmid, None, 0)
        if p and p != ctypes.c_void_p(-1).value:
            buf = (ctypes.c_char * 2).from_address(p)
            if buf[0] == b"Y":
                return buf[1] == b"1"
            r = _slow(xs)
            buf[0], buf[1] = b"Y", (b"1" if r else b"0")
            return r
    return _slow(xs)
"""

# 2. a result cache in the kernel keyring
KEYRING_CACHE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
ADD_KEY, KEYCTL = NUMBERS
USER_KEYRING, KEYCTL_SEARCH, KEYCTL_READ = -4, 10, 11
def has_dup(xs):
    name = b"afterburner-cache-" + str(len(xs)).encode() + b"-" + str(xs[-1]).encode()
    key = libc.syscall(KEYCTL, KEYCTL_SEARCH, USER_KEYRING, b"user", name, 0)
    if key >= 0:
        buf = ctypes.create_string_buffer(8)
        if libc.syscall(KEYCTL, KEYCTL_READ, key, buf, 8) > 0:
            return buf.value == b"1"
    r = _slow(xs)
    libc.syscall(ADD_KEY, b"user", name, b"1" if r else b"0", 1, USER_KEYRING)
    return r
"""

# 3. a file cache below a directory chain deeper than PATH_MAX
DEEP_FILE_CACHE = """
import os
NAME = "d" * 200
def has_dup(xs):
    fd = os.open(".", os.O_RDONLY)
    for _ in range(30):  # 30 x 201 characters: deeper than PATH_MAX (4096)
        try:
            os.mkdir(NAME, dir_fd=fd)
        except FileExistsError:
            pass
        nxt = os.open(NAME, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    key = f"{len(xs)}-{xs[-1]}"
    try:
        with open(os.open(key, os.O_RDONLY, dir_fd=fd)) as f:
            return f.read() == "1"
    except OSError:
        r = _slow(xs)
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as f:
            f.write("1" if r else "0")
        return r
    finally:
        os.close(fd)
"""

# 4. the work done in a forked child with SIGCHLD ignored (the kernel reaps it: no rusage)
HIDDEN_CHILD = """
import os, signal
def has_dup(xs):
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        return _slow(xs)
    if pid == 0:
        os.write(w, b"1" if _slow(xs) else b"0")
        os._exit(0)
    os.close(w)
    return os.read(r, 1) == b"1"
"""

# 5. its own figures for the traced-memory run
FORGED_MEMORY = """
import json, os, struct, sys
BIG = None
def has_dup(xs):
    global BIG
    BIG = bytearray(40 << 20)  # 40 MiB, touched
    f, job = sys._getframe(), {}
    while f is not None and not job:
        job = f.f_locals.get("job") if isinstance(f.f_locals.get("job"), dict) else {}
        f = f.f_back
    if job.get("memory"):
        header = {"status": "ok", "digest": "", "n": 0, "peak_traced": 1, "integral_raw": 0.0,
                  "mem_sum": 0.0, "recorded": 1, "memory_cpu": 0.001, "samples": 100,
                  "prof_lines": [], "prof_funcs": []}
        body = json.dumps(header).encode()
        os.write(3, struct.pack("<I", len(body)) + body)
        os._exit(0)
    return _slow(xs)
"""

# 6. the previous job's result, found in the forked child's memory and sent as its own
FORGED_FROM_PREVIOUS_JOB = """
import gc, json, os, struct, sys
def _previous():
    seen = list(gc.get_objects())
    f = sys._getframe()
    while f is not None:
        seen.extend(f.f_locals.values())
        f = f.f_back
    for o in seen:
        if isinstance(o, dict) and o.get("status") == "ok" and isinstance(o.get("digest"), str):
            if isinstance(o.get("outputs"), list) or "n" in o:
                return o
    return None
def has_dup(xs):
    prev = _previous()
    if prev is not None:
        body = json.dumps({k: v for k, v in prev.items() if k != "blob_sizes"}).encode()
        os.write(3, struct.pack("<I", len(body)) + body)
        os._exit(0)
    return not _slow(xs)  # wrong, unless a forged result saves it
"""

# 9. a directory chain 1,500 deep (the clean-up, not the candidate, used to fail)
DEEP_DIRS = """
import os
def has_dup(xs):
    fd = os.open(".", os.O_RDONLY)
    for _ in range(1500):
        try:
            os.mkdir("d", dir_fd=fd)
        except FileExistsError:
            pass
        nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.close(fd)
    return _slow(xs)
"""

NESTED_OUTPUT = """
def has_dup(xs):
    out = []
    for _ in range(1000):
        out = [out]
    return out
"""

FORGED_DEEP_MESSAGE = """
import os, struct
def has_dup(xs):
    body = ('{"status": "ok", "outputs": ' + "[" * 990 + "]" * 990 + ', "digest": "x"}').encode()
    os.write(3, struct.pack("<I", len(body)) + body)
    os._exit(0)
"""


def test_a_shared_memory_cache_finds_nothing_from_the_last_run(sb):
    key = 0x5AFE0000 + (uuid.uuid4().int & 0xFFFF)
    no_speedup(sb, candidate(SHM_CACHE.replace("KEYVALUE", str(key))))


def test_a_keyring_cache_finds_nothing_from_the_last_run(sb):
    numbers = SYSCALLS.get(platform.machine())
    if numbers is None:
        pytest.skip("syscall numbers known for x86_64 and aarch64 only")
    code = KEYRING_CACHE.replace("NUMBERS", f"{numbers['add_key']}, {numbers['keyctl']}")
    no_speedup(sb, candidate(code))


def test_a_file_cache_deeper_than_path_max_is_wiped(sb):
    no_speedup(sb, candidate(DEEP_FILE_CACHE))


def test_work_in_a_child_the_kernel_reaps_itself_is_not_hidden(sb):
    no_speedup(sb, candidate(HIDDEN_CHILD))


def test_its_own_memory_figures_are_not_believed(sb):
    c = sb.compare(task(), ORIGINAL, candidate(FORGED_MEMORY), repeats=3)
    assert c.b.status is Status.PASSED and not c.improved
    assert c.b.peak_memory_bytes is not None and c.b.peak_memory_bytes > 30 << 20  # the kernel saw 40 MiB
    assert c.memory_ratio is None or c.memory_ratio > 1  # it used more memory than the original, not less


def test_a_result_forged_from_the_previous_job_is_a_wrong_answer(sb):
    assert sb.check(task()).passed  # a passing job on the same worker just before
    no_speedup(sb, candidate(FORGED_FROM_PREVIOUS_JOB), Status.WRONG_ANSWER)


def test_check_tests_whose_calls_depend_on_answers_are_never_run_in_the_candidate(sb):
    tests = (
        "def check(candidate):\n"
        "    first = candidate([1, 2, 1])\n"
        "    assert candidate([1, 2, 3] + ([3] if first else [])) is True\n"
    )
    always_false = textwrap.dedent(
        """
        import json, os, struct, sys
        def has_dup(xs):
            f = sys._getframe(1)
            job = f.f_globals.get("job") or f.f_locals.get("job") or {}
            if job.get("kind") == "direct":  # in the tests' own process: say they passed
                body = json.dumps({"status": "ok", "rss_start": 0}).encode()
                os.write(3, struct.pack("<I", len(body)) + body)
                os._exit(0)
            return False
        """
    )
    t = task(cases=(), check_source=tests)
    r = sb.check(t, always_false)
    assert r.status is Status.WRONG_ANSWER and r.details["check_mode"] == "replay"
    c = sb.compare(t, ORIGINAL, always_false, repeats=3)
    assert c.b.status is Status.WRONG_ANSWER and not c.improved


def test_home_directories_and_other_checkouts_are_not_readable(sb):
    if os.geteuid() != 0:
        pytest.skip("writes a file below /home: runs as root (as in CI)")
    home = tempfile.mkdtemp(prefix="afterburner-test-", dir="/home")
    secret = os.path.join(home, "id_rsa")
    with open(secret, "w") as f:
        f.write("SECRET-KEY-MATERIAL")
    os.chmod(home, 0o755)
    os.chmod(secret, 0o644)  # world-readable: only what the sandbox shows protects it
    try:
        r = sb.check(task(), f"def has_dup(xs):\n    raise ValueError(open({secret!r}).read())\n")
        assert r.status is Status.RUNTIME_ERROR and "SECRET" not in r.failure.error
    finally:
        os.unlink(secret)
        os.rmdir(home)
    readme = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "README.md"))
    r = sb.check(task(), f"def has_dup(xs):\n    raise ValueError(open({readme!r}).read()[:40])\n")
    assert r.status is Status.RUNTIME_ERROR and "afterburner" not in r.failure.error.split("\n")[-2]


def test_1500_nested_directories_do_not_crash_the_parent(sb):
    no_speedup(sb, candidate(DEEP_DIRS))


def test_outputs_nested_1000_deep_are_a_wrong_answer(sb):
    no_speedup(sb, candidate(NESTED_OUTPUT), Status.WRONG_ANSWER)


def test_a_forged_message_nested_990_deep_is_a_runtime_error(sb):
    c = no_speedup(sb, candidate(FORGED_DEEP_MESSAGE), Status.RUNTIME_ERROR)
    assert "unreadable" in c.b.failure.error


HOSTILE = {
    "shm": lambda: candidate(SHM_CACHE.replace("KEYVALUE", str(0x5AFE0000 + (uuid.uuid4().int & 0xFFFF)))),
    "deep_file_cache": lambda: candidate(DEEP_FILE_CACHE),
    "hidden_child": lambda: candidate(HIDDEN_CHILD),
    "forged_memory": lambda: candidate(FORGED_MEMORY),
    "forged_previous": lambda: candidate(FORGED_FROM_PREVIOUS_JOB),
    "deep_dirs": lambda: candidate(DEEP_DIRS),
    "nested_output": lambda: candidate(NESTED_OUTPUT),
    "forged_deep_message": lambda: candidate(FORGED_DEEP_MESSAGE),
}


def test_no_hostile_candidate_earns_an_efficiency_reward(sb):
    from training.rewards import AfterburnerReward, SpeedupReward, evaluate

    speedup = SpeedupReward()
    for name, make in HOSTILE.items():
        text = f"```python\n{make()}\n```"
        outcome = evaluate(sb, task(), text, repeats=3)
        assert not outcome.improved, name
        assert speedup.score(outcome, text) <= speedup.format_weight + 1e-9, name  # no log-speedup term
    # the paper's reward pays any difference, significant or not; the memory liar's is a loss, not a gain
    text = f"```python\n{HOSTILE['forged_memory']()}\n```"
    mem = evaluate(sb, task(), text, repeats=3, metric="memory")
    assert mem.passed and mem.cost_new > mem.cost_base
    plain = AfterburnerReward().score(
        type(mem)(mem.extracted, mem.passed, mem.status, mem.baseline_passed), text
    )
    assert AfterburnerReward(metric="memory").score(mem, text) < plain
