"""The Docker sandbox backend (``--sandbox docker``): one warm container per worker, the same zygote inside.

Each worker is one long-lived container whose PID 1 is the zygote of ``worker.py``; it forks a child
per run exactly as under bubblewrap, and the parent talks to it over the same pipe protocol. The pipes
are two FIFOs in a private host directory bind-mounted at ``/run/afterburner``: the container opens
them at start, the parent opens its ends, then unlinks both, so no path leads to them once candidate
code can run (and the zygote is not dumpable, so ``/proc/1/fd`` is closed to the candidate too).

The container: read-only root filesystem, no network (``network_mode="none"``), a memory limit (the
run's address-space limit plus headroom, no swap), one CPU (pinned to the worker's core), a pids
limit, uid 65534, every capability dropped, no-new-privileges and Docker's default seccomp profile
(which also denies the kernel keyring and new namespaces); ``/tmp`` (the work dir is ``/tmp/work``)
and ``/dev/shm`` are size-limited tmpfs owned by the sandbox user, which the zygote wipes after every
run. The image has no Python of its own: the host's interpreter prefix, its venv and the afterburner
package are bind-mounted read-only at their own paths, so candidates see the same interpreter and
packages as under the other backends.

The image (``afterburner sandbox build-image``, or built on first use, with progress on stderr) comes
from ``docker/Dockerfile`` over a base made on this machine: a minimal Debian root filesystem built
with ``debootstrap`` (the host's Debian release, so the same glibc) and ``docker import``-ed. Nothing
is pulled from a registry. Both images are tagged by a hash of what made them, so they are built once.

Containers left behind by a killed process (their zygote exits when its pipe closes) are removed the
next time this backend starts. Only this module imports ``docker``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from afterburner.errors import SandboxError
from afterburner.sandbox.config import SandboxConfig
from afterburner.sandbox.pool import WORKER, Worker, WorkerDied, is_root, make_hostdir, sandbox_env

DOCKER_DIR = Path(__file__).with_name("docker")
IMAGE_REPO = "afterburner-sandbox"
BASE_REPO = "afterburner-sandbox-base"
LABEL = "org.afterburner.sandbox"
CTL = "/run/afterburner"  # where the two FIFOs appear inside the container
WORKDIR = "/tmp/work"
MIRROR = os.environ.get("AFTERBURNER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# the shared libraries a CPython build (and common wheels) link against, beyond debootstrap's minbase
PACKAGES = (
    "libbz2-1.0",
    "libcrypt1",
    "libexpat1",
    "libffi8",
    "libgcc-s1",
    "libgdbm6",
    "libgomp1",
    "liblzma5",
    "libncursesw6",
    "libnsl2",
    "libreadline8",
    "libsqlite3-0",
    "libssl3",
    "libstdc++6",
    "libtirpc3",
    "libuuid1",
    "zlib1g",
)
SMOKE = (
    "import ctypes, decimal, hashlib, json, lzma, bz2, zlib, pickle, sqlite3, ssl, tracemalloc, uuid, os;"
    "print(os.getuid(), os.confstr('CS_GNU_LIBC_VERSION'))"
)

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}  # the client, the image tag checked in this process, the stale sweep


# ---------------------------------------------------------------- the daemon and the image
def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    return text[:300]


def client() -> Any:
    """A docker client that has answered a ping (once per process); one clear line when it cannot."""
    with _LOCK:
        if "client" in _STATE:
            return _STATE["client"]
        try:
            import docker
        except ImportError:
            raise SandboxError(
                "--sandbox docker needs the docker SDK: pip install 'afterburner[docker]' (or pip install docker)"
            ) from None
        try:
            c = docker.from_env(timeout=120)
            c.ping()
        except Exception as e:  # requests, urllib3 and docker all raise their own
            host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
            raise SandboxError(
                f"the docker sandbox needs dockerd, which is not reachable at {host} ({_short(e)}): start "
                "it (e.g. `dockerd &` as root) or use --sandbox bwrap"
            ) from None
        _STATE["client"] = c
        return c


def unavailable_reason() -> str | None:
    """Why the docker backend cannot run here right now (no SDK, no daemon, no image), or None."""
    try:
        c = client()
    except SandboxError as e:
        return str(e)
    if not _has_image(c, image_tag()):
        return f"the sandbox image {image_tag()} is not built: run `afterburner sandbox build-image`"
    return None


def _suite() -> str:
    """The host's Debian release (same glibc as the host's Python was built against); else bookworm."""
    try:
        info = dict(
            line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
        )
    except OSError:
        return "bookworm"
    codename = info.get("VERSION_CODENAME", "").strip('"')
    return codename if info.get("ID", "").strip('"') == "debian" and codename else "bookworm"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def base_tag() -> str:
    suite = _suite()
    return f"{BASE_REPO}:{suite}-{_digest(suite, MIRROR, *PACKAGES)}"


def image_tag() -> str:
    dockerfile = (DOCKER_DIR / "Dockerfile").read_text(encoding="utf-8")
    return f"{IMAGE_REPO}:{_digest(base_tag(), dockerfile)}"


def _has_image(c: Any, tag: str) -> bool:
    import docker

    try:
        c.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def _say(line: str) -> None:
    print(f"afterburner: {line}", file=sys.stderr, flush=True)


def _build_base(c: Any, progress: Callable[[str], None]) -> str:
    tag = base_tag()
    if _has_image(c, tag):
        return tag
    boot = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None
    )
    if not boot:
        raise SandboxError(
            "building the docker sandbox image needs debootstrap: apt-get install debootstrap (as root)"
        )
    if not is_root():
        raise SandboxError(
            "building the docker sandbox image needs root (debootstrap makes a root filesystem)"
        )
    suite = _suite()
    progress(f"making a minimal Debian {suite} root filesystem with debootstrap (once; a few minutes) ...")
    with tempfile.TemporaryDirectory(prefix="afterburner-rootfs-", dir="/var/tmp") as tmp:
        root = os.path.join(tmp, "rootfs")
        cmd = [boot, "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, root, MIRROR]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen, tail = set(), []
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail, line][-5:]
            m = re.match(r"^([IEW]): (\w+)", line)
            if m and (m.group(1) != "I" or m.group(2) not in seen):  # one line per stage, not per package
                seen.add(m.group(2))
                progress(f"  debootstrap: {line[3:]}")
        if proc.wait() != 0:
            raise SandboxError(f"debootstrap {suite} from {MIRROR} failed: {' | '.join(tail)[-400:]}")
        tar = os.path.join(tmp, "rootfs.tar")
        subprocess.run(["tar", "--numeric-owner", "-C", root, "-cf", tar, "."], check=True)
        progress(f"importing it into docker as {tag} ...")
        repo, _, version = tag.partition(":")
        c.api.import_image_from_file(tar, repository=repo, tag=version)
    return tag


def build_image(progress: Callable[[str], None] = _say, force: bool = False) -> str:
    """Build (or find) the sandbox image; returns its tag. Checks that the host's Python runs in it."""
    import docker

    c = client()
    tag = image_tag()
    if _has_image(c, tag) and not force:
        progress(f"the sandbox image {tag} is built")
        return tag
    t0 = time.monotonic()
    base = _build_base(c, progress)
    progress(f"building {tag} from {DOCKER_DIR / 'Dockerfile'} ...")
    try:
        for chunk in c.api.build(
            path=str(DOCKER_DIR),
            tag=tag,
            buildargs={"BASE": base},
            network_mode="none",
            rm=True,
            forcerm=True,
            decode=True,
            labels={LABEL: "image"},
        ):
            if "error" in chunk:
                raise SandboxError(f"docker build of the sandbox image failed: {chunk['error'].strip()}")
            text = chunk.get("stream", "").strip()
            if text.startswith("Step "):
                progress(f"  {text}")
    except docker.errors.APIError as e:
        raise SandboxError(f"docker build of the sandbox image failed: {_short(e)}") from None
    out = _smoke(c, tag)
    progress(f"built {tag} in {time.monotonic() - t0:.0f} s; the host's Python runs in it ({out})")
    return tag


def _smoke(c: Any, tag: str) -> str:
    """Run the host's interpreter in the image once; one line saying what is missing when it cannot."""
    import docker

    uid = SandboxConfig().sandbox_uid
    try:
        out = c.containers.run(
            tag,
            [sys.executable, "-s", "-P", "-c", SMOKE],
            user=f"{uid}:{uid}",
            volumes=_binds(),
            read_only=True,
            network_mode="none",
            cap_drop=["ALL"],
            environment=sandbox_env("/tmp"),
            remove=True,
            stderr=True,
        )
    except docker.errors.ContainerError as e:
        err = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        raise SandboxError(
            f"the host's Python ({sys.executable}) does not run in the sandbox image {tag}: "
            f"{err[-1] if err else e}"
        ) from None
    return out.decode(errors="replace").strip()


def ensure_image(c: Any) -> str:
    """The image tag, building the image first (with progress on stderr) when it is missing."""
    with _LOCK:
        tag = _STATE.get("image")
    if tag:
        return tag
    tag = image_tag()
    if not _has_image(c, tag):
        _say(f"the docker sandbox image is not built yet: building {tag} now (once)")
        build_image()
    with _LOCK:
        _STATE["image"] = tag
    return tag


# ---------------------------------------------------------------- what the container sees
def _binds() -> dict[str, dict[str, str]]:
    """Read-only binds at their own paths: the interpreter prefix(es), the venv, the afterburner package."""
    import afterburner

    paths = [sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))]
    paths.append(os.path.dirname(os.path.abspath(afterburner.__file__)))
    real = sorted({os.path.realpath(p) for p in paths if p})
    keep: list[str] = []
    for p in real:  # a path below another bound path comes with it
        if not any(p == k or p.startswith(k.rstrip("/") + "/") for k in keep):
            keep.append(p)
    # the venv's `python` is a symlink into the base prefix: keep both ends reachable
    return {p: {"bind": p, "mode": "ro"} for p in keep}


def _owner_id(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        start = stat[stat.rindex(b")") + 2 :].split()[19].decode()
    except (OSError, IndexError):
        start = "?"
    return f"{socket.gethostname()}:{pid}:{start}"


def _sweep_stale(c: Any) -> None:
    """Remove sandbox containers whose owning process (on this host) is gone: left by kill -9."""
    with _LOCK:
        if _STATE.get("swept"):
            return
        _STATE["swept"] = True
    me = socket.gethostname()
    try:
        found = c.containers.list(all=True, filters={"label": f"{LABEL}.owner"})
    except Exception:  # a failed sweep must not stop the run
        return
    for ctr in found:
        owner = ctr.labels.get(f"{LABEL}.owner", "")
        host, _, rest = owner.partition(":")
        pid_s = rest.partition(":")[0]
        if host != me or not pid_s.isdigit() or _owner_id(int(pid_s)) == owner:
            continue
        with contextlib.suppress(Exception):
            ctr.remove(force=True)


class _HostProcess:
    """The zygote as seen from the host (PID 1 of its container): what `WorkerPool` asks of a process."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd = os.pidfd_open(pid)

    def poll(self) -> int | None:
        if self.returncode is None and self._pidfd >= 0:
            import select

            if select.select([self._pidfd], [], [], 0)[0]:
                self.returncode = -1
        return self.returncode

    def kill(self) -> None:
        if self._pidfd >= 0 and self.returncode is None:
            with contextlib.suppress(OSError):  # through the pidfd: never a recycled pid
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def close(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
        if self.returncode is None:
            self.returncode = -1


class DockerWorker(Worker):
    """One warm zygote in its own long-lived container; the conversation is `Worker`'s."""

    def __init__(self, cfg: SandboxConfig, mode: str, cpu: int | None) -> None:
        self.cfg, self.mode, self.cpu = cfg, mode, cpu
        self.sent: set[str] = set()
        self.container: Any = None
        self.proc: Any = None
        self.wfd = self.rfd = -1
        c = client()
        tag = ensure_image(c)
        _sweep_stale(c)
        self.hostdir = make_hostdir(cfg)  # named like the other backends', so a crashed run's is swept
        try:
            self._start(c, tag)
            hello, _ = self.request({"op": "ping"}, [], timeout=30)
        except WorkerDied as e:
            self.close()
            raise SandboxError(f"the docker sandbox worker did not start ({e})") from None
        except BaseException:
            self.close()
            raise
        self.pid_inside = hello.get("pid")

    def _start(self, c: Any, tag: str) -> None:
        import docker

        uid = self.cfg.sandbox_uid
        ctl = os.path.join(self.hostdir, "ctl")
        os.mkdir(ctl)
        os.chmod(self.hostdir, 0o711)
        os.chmod(ctl, 0o711)
        fifo_in, fifo_out = os.path.join(ctl, "in"), os.path.join(ctl, "out")
        for f in (fifo_in, fifo_out):
            os.mkfifo(f, 0o600)
            if is_root():
                os.chown(f, uid, uid)
            else:
                os.chmod(f, 0o666)  # unlinked before any candidate code runs
        self.rfd = os.open(fifo_out, os.O_RDONLY | os.O_NONBLOCK)  # so the container's open does not block
        py = [sys.executable, "-s", "-P", str(WORKER), "--work", WORKDIR, "--tmp", "/tmp", "--ns", "1"]
        script = f'mkdir -p {WORKDIR} && cd {WORKDIR} && exec "$@" >{CTL}/out <{CTL}/in'
        mem = self.cfg.memory_bytes + (256 << 20)  # the child's address-space limit, the zygote, the tmpfs
        tmp_size = min(self.cfg.memory_bytes, 1 << 30)
        tmpfs_opts = f"rw,nosuid,nodev,uid={uid},gid={uid},mode=0700"
        binds = _binds()
        binds[ctl] = {"bind": CTL, "mode": "ro"}
        try:
            self.container = c.containers.run(
                tag,
                ["/bin/sh", "-c", script, "sh", *py],
                detach=True,
                auto_remove=True,
                user=f"{uid}:{uid}",
                read_only=True,
                network_mode="none",
                ipc_mode="private",
                mem_limit=mem,
                memswap_limit=mem,
                nano_cpus=10**9,
                cpuset_cpus=str(self.cpu) if self.cpu is not None else None,
                pids_limit=self.cfg.max_processes + 16,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges:true"],
                tmpfs={
                    "/tmp": f"{tmpfs_opts},size={tmp_size}",
                    "/dev/shm": f"{tmpfs_opts},size={min(tmp_size, 64 << 20)}",
                },
                volumes=binds,
                environment=sandbox_env(WORKDIR),
                hostname="sandbox",
                labels={LABEL: "worker", f"{LABEL}.owner": _owner_id(os.getpid())},
                log_config=docker.types.LogConfig(type="json-file", config={"max-size": "1m"}),
                stop_signal="SIGKILL",
            )
        except docker.errors.APIError as e:
            raise SandboxError(f"docker could not start a sandbox container: {_short(e)}") from None
        deadline, next_look = time.monotonic() + 60, 0.0
        while True:
            try:
                self.wfd = os.open(fifo_in, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno != errno.ENXIO:  # ENXIO: the container has not opened its end yet
                    raise
            now = time.monotonic()
            if now > deadline:
                raise WorkerDied("the container did not open its pipe within 60 s")
            if now > next_look:
                next_look = now + 0.2
                if self._container_status() not in ("created", "running"):
                    raise WorkerDied(f"the container exited at start: {self._logs() or 'no output'}")
            time.sleep(0.002)
        for fd in (self.rfd, self.wfd):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        for f in (fifo_in, fifo_out):  # from here on no path leads to the pipes
            os.unlink(f)
        self.container.reload()
        self.proc = _HostProcess(int(self.container.attrs["State"]["Pid"]))

    def _container_status(self) -> str:
        try:
            self.container.reload()
            return self.container.status
        except Exception:  # removed (auto_remove) once it exited
            return "gone"

    def _logs(self) -> str:
        try:
            return self.container.logs().decode(errors="replace").strip()[-300:]
        except Exception:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        for attr in ("wfd", "rfd"):
            fd = getattr(self, attr, -1)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, attr, -1)
        if self.proc is not None:
            self.proc.kill()  # PID 1 of the container: the whole container goes with it
            self.proc.close()
        if self.container is not None:
            with contextlib.suppress(Exception):  # auto_remove may already have taken it
                self.container.remove(force=True)
            self.container = None
        shutil.rmtree(self.hostdir, ignore_errors=True)
