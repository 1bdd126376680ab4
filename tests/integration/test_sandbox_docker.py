"""The docker sandbox backend (``--sandbox docker``): the same checks and measurements as the other
backends, in warm containers whose limits hold. Skips, with the reason, without dockerd or the image
(``afterburner sandbox build-image``)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from afterburner.cli import main
from afterburner.sandbox import Sandbox, SandboxConfig, Status
from afterburner.task import Case, Task

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
ORACLE = "def f(n):\n    return n * 2\n"


def _reason() -> str | None:
    try:
        from afterburner.sandbox import docker_backend
    except ImportError as e:  # pragma: no cover - the module is part of the package
        return str(e)
    return docker_backend.unavailable_reason()


@pytest.fixture(scope="module")
def docker_ready():
    reason = _reason()
    if reason:
        pytest.skip(f"docker sandbox unavailable: {reason}")


@pytest.fixture(scope="module")
def sb(docker_ready):
    cfg = SandboxConfig(isolation="docker", timeout_s=5.0, memory_bytes=1 << 30, min_repeats=3, max_repeats=3)
    with Sandbox(cfg, workers=1) as s:
        yield s


def task() -> Task:
    return Task(
        name="double",
        entry_point="f",
        code=ORACLE,
        cases=(Case((3,), {}, 6, True),),
        workload_inputs=(Case((5,)),),
    )


def held(sb, body: str):
    """A candidate that answers right only when what `body` tries fails: passed == the limit held."""
    code = (
        "import os\ndef _attempt():\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + (
            "\ndef f(n):\n    try:\n        _attempt()\n    except Exception:\n        return n * 2\n    return -1\n"
        )
    )
    return sb.check(task(), code)


def test_measure_and_compare_through_the_cli(docker_ready, capsys):
    base = [f"--tests={EX}/duplicates_tests.py", f"--workload={EX}/duplicates_workload.py", "--sizes", "1000"]
    code = main(["measure", f"{EX}/duplicates.py::find_duplicates", *base, "--sandbox", "docker", "--json"])
    m = json.loads(capsys.readouterr().out)
    assert code == 0 and m["status"] == "passed"
    assert m["details"]["isolation"] == "docker"
    assert m["cpu_time_s"]["median"] > 0
    code = main(
        [
            "compare",
            f"{EX}/duplicates.py::find_duplicates",
            f"{EX}/duplicates_fast.py::find_duplicates",
            *base,
            "--sandbox",
            "docker",
            "--json",
        ]
    )
    c = json.loads(capsys.readouterr().out)
    assert code == 0 and c["improved"] is True and c["speedup"] > 1.5


def test_check_finds_wrong_answers_and_crashes(sb):
    assert sb.check(task()).passed
    assert sb.check(task(), "def f(n):\n    return n * 3\n").status is Status.WRONG_ANSWER
    assert sb.check(task(), "def f(n):\n    raise ValueError('no')\n").status is Status.RUNTIME_ERROR
    r = sb.check(task(), "def f(n):\n    while True:\n        pass\n")
    assert r.status is Status.TIMEOUT


def test_containers_are_warm(sb):
    zygote = sb.pool.zygote_pids()
    for _ in range(5):
        assert sb.check(task()).passed
    assert sb.pool.zygote_pids() == zygote  # the same container, forking per run


def test_no_network_even_to_the_hosts_loopback(sb):
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def accept() -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            srv.accept()

    threading.Thread(target=accept, daemon=True).start()
    try:
        r = held(
            sb, f"socket = __import__('socket')\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
        )
        assert r.passed, r.failure
        assert held(
            sb, "socket = __import__('socket')\nsocket.create_connection(('1.1.1.1', 53), timeout=2)"
        ).passed
    finally:
        srv.close()


@pytest.mark.parametrize("path", ["/etc/afterburner-x", "/usr/afterburner-x", "/afterburner-x", "{prefix}/x"])
def test_root_filesystem_and_host_binds_are_read_only(sb, path):
    path = path.format(prefix=os.path.realpath(sys.prefix))
    r = held(sb, f"open({path!r}, 'w').write('x')")
    assert r.passed, r.failure
    assert not os.path.exists(path)


def test_runs_as_a_non_root_user_without_capabilities(sb):
    code = textwrap.dedent(
        """
        import os
        def f(n):
            status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
            ok = (os.getuid() != 0 and os.geteuid() != 0 and int(status['CapEff'], 16) == 0
                  and status['NoNewPrivs'].strip() == '1' and status['Seccomp'].strip() != '0')
            return n * 2 if ok else repr(status)
        """
    )
    r = sb.check(task(), code)
    assert r.passed, r.failure


def test_host_files_outside_the_binds_are_not_there(sb):
    r = held(sb, f"assert open({str(ROOT / 'README.md')!r}).read()")
    assert r.passed, r.failure
    assert held(sb, "assert os.listdir('/root/.ssh') or True").passed  # the image's /root is empty


def test_fork_bomb_hits_the_limits_and_the_worker_survives(sb):
    code = textwrap.dedent(
        """
        import os
        def f(n):
            while True:
                try:
                    if os.fork() == 0:
                        while True:
                            pass
                except OSError:
                    pass
        """
    )
    r = sb.check(task(), code)
    assert not r.passed
    assert sb.pool.stray_processes() == []
    assert sb.check(task()).passed


def test_the_container_has_the_limits(sb):
    from afterburner.sandbox import docker_backend

    w = sb.pool._workers[0]
    assert isinstance(w, docker_backend.DockerWorker)
    w.container.reload()
    host = w.container.attrs["HostConfig"]
    assert w.container.attrs["Config"]["User"] == f"{sb.config.sandbox_uid}:{sb.config.sandbox_uid}"
    assert host["ReadonlyRootfs"] is True
    assert host["NetworkMode"] == "none"
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert not any("seccomp" in o for o in host["SecurityOpt"])  # docker's default profile applies
    assert host["PidsLimit"] == sb.config.max_processes + 16
    assert host["Memory"] == host["MemorySwap"] > sb.config.memory_bytes
    assert host["NanoCpus"] == 10**9
    assert all(b.endswith(":ro") for b in host["Binds"])


def test_dockerd_unreachable_is_one_line(tmp_path):
    pytest.importorskip("docker")
    (tmp_path / "a.py").write_text(ORACLE)
    (tmp_path / "t.py").write_text("def check(candidate):\n    assert candidate(3) == 6\n")
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    cmd = [sys.executable, "-m", "afterburner.cli", "measure", f"{tmp_path}/a.py::f"]
    r = subprocess.run(
        [*cmd, "--tests", f"{tmp_path}/t.py", "--sandbox", "docker"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "dockerd" in lines[0] and "not reachable" in lines[0], r.stderr


def test_containers_left_by_a_killed_process_are_removed(docker_ready):
    from afterburner.sandbox import docker_backend

    c = docker_backend.client()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = c.containers.create(
        docker_backend.image_tag(),
        ["/bin/true"],
        labels={f"{docker_backend.LABEL}.owner": f"{socket.gethostname()}:{dead.pid}:1"},
    )
    docker_backend._STATE.pop("swept", None)
    docker_backend._sweep_stale(c)
    assert not c.containers.list(all=True, filters={"id": stale.id})


def test_optimize_runs_its_candidates_in_docker(docker_ready, tmp_path, capsys):
    fast = (EX / "duplicates_fast.py").read_text()
    (tmp_path / "replies.json").write_text(
        json.dumps({"replies": [f"```python\n{fast}\n```"], "cycle": True})
    )
    code = main(
        [
            "optimize",
            f"{EX}/duplicates.py::find_duplicates",
            f"--tests={EX}/duplicates_tests.py",
            f"--workload={EX}/duplicates_workload.py",
            "--sizes",
            "800",
            "--backend",
            "scripted",
            f"--replies={tmp_path}/replies.json",
            "--rounds=1",
            "--candidates=1",
            "--sandbox=docker",
            f"--runs-dir={tmp_path}/runs",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["improved"] is True
    assert '"isolation": "docker"' in Path(out["trajectory"]).read_text()
