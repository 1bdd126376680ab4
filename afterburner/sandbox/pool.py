"""Warm workers: one zygote process per core, started under bubblewrap, talked to over pipes.

`WorkerPool` owns the workers; `acquire()` hands out a free one (thread-safe). A worker that dies
(the candidate killed it) or stops answering is killed with its whole process group and replaced.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from afterburner.errors import SandboxError
from afterburner.sandbox import fallback, fstree
from afterburner.sandbox.config import SandboxConfig
from afterburner.sandbox.protocol import pack_msg, read_msg

WORKER = Path(__file__).with_name("worker.py")
_PROBE: dict[str, str] = {}  # isolation mode found by the one probe per process
_PROBE_LOCK = threading.Lock()


class WorkerDied(Exception):
    """The worker process is gone (EOF on its pipe) or stopped answering."""


def is_root() -> bool:
    return os.geteuid() == 0


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc")


def needed_paths(extra: tuple[str, ...] = ()) -> list[str]:
    """What the worker reads from the host: the Python prefix(es) (site-packages with them), the
    sandbox's own directory, and the configured extras. Nothing else of the host is bound in."""
    paths = (sys.base_prefix, sys.prefix, str(WORKER.parent), *extra)
    return [p for p in dict.fromkeys(os.path.realpath(x) for x in paths) if os.path.exists(p)]


def bwrap_prefix(hostdir: str, extra: tuple[str, ...] = (), tmpfs_bytes: int | None = None) -> list[str]:
    """bwrap's arguments; with `tmpfs_bytes`, /tmp is a fresh tmpfs of that size (a warm worker: fast to
    wipe, gone with the sandbox), else the host directory `hostdir` (callgrind reads its output there)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise OSError("bwrap is not on PATH (apt-get install bubblewrap)")
    args = [bwrap]
    # a fresh, empty root: the system's programs and libraries, no home directory, no other checkout
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    args += ["--dev", "/dev", "--proc", "/proc"]
    if tmpfs_bytes:
        args += ["--perms", "01777", "--size", str(tmpfs_bytes), "--tmpfs", "/tmp"]
    else:
        args += ["--bind", hostdir, "/tmp"]
    made: set[str] = set()
    for p in needed_paths(extra):  # after /tmp: a clone and its venv may live below the host's /tmp
        parts = Path(p).parts
        for i in range(2, len(parts)):  # parents others can enter (bwrap would copy none of their modes)
            d = str(Path(*parts[:i]))
            if (
                d not in made
                and d != "/tmp"
                and not any(d == s or d.startswith(s + "/") for s in SYSTEM_DIRS)
            ):
                made.add(d)
                args += ["--perms", "0755", "--dir", d]
        args += ["--ro-bind", p, p]
    if is_root():  # no user namespace: the worker drops to the sandbox uid itself (real host uid)
        args += [
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "CAP_SETUID",
            "--cap-add",
            "CAP_SETGID",
        ]
    else:
        args += ["--unshare-all"]
    # on a fresh tmpfs the worker makes /tmp/work itself (owned by the sandbox user)
    args += ["--die-with-parent", "--new-session", "--chdir", "/tmp" if tmpfs_bytes else "/tmp/work"]
    return args


def sandbox_env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "TMPDIR": os.path.dirname(home),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


PREFIX = "afterburner-sandbox-"
_SWEPT: set[str] = set()


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()[19].decode()


def sweep_stale_dirs(root: str | None = None) -> list[str]:
    """Remove sandbox dirs left by processes that are gone (kill -9, SIGTERM): each dir is named after
    its owner's pid and start time, so a live owner (another run beside us) is never touched."""
    root = root or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        parts = name[len(PREFIX) :].split("-")
        if not name.startswith(PREFIX) or len(parts) < 3 or not parts[0].isdigit():
            continue
        pid, start = int(parts[0]), parts[1]
        if _start_time(pid) == start:
            continue  # its owner is alive
        path = os.path.join(root, name)
        try:
            if os.lstat(path).st_uid != os.geteuid() and not is_root():
                continue
        except OSError:
            continue
        if fstree.remove(path):
            removed.append(path)
    return removed


def make_hostdir(cfg: SandboxConfig) -> str:
    tmp = tempfile.gettempdir()
    if tmp not in _SWEPT:  # once per process: what crashed runs left behind
        _SWEPT.add(tmp)
        sweep_stale_dirs(tmp)
    me = os.getpid()
    hostdir = tempfile.mkdtemp(prefix=f"{PREFIX}{me}-{_start_time(me)}-")
    os.makedirs(os.path.join(hostdir, "work"))
    for p in (hostdir, os.path.join(hostdir, "work")):
        os.chmod(p, 0o711)  # bwrap (root without capabilities) must be able to enter it
        if is_root():
            os.chown(p, cfg.sandbox_uid, cfg.sandbox_uid)
    return hostdir


def isolation_mode(cfg: SandboxConfig) -> str:
    """'bwrap', 'none' or 'docker'. Probes bwrap once per process; warns once, clearly, when it cannot be used."""
    if cfg.isolation in ("none", "docker"):
        return cfg.isolation
    with _PROBE_LOCK:
        if "mode" not in _PROBE:
            hostdir = make_hostdir(cfg)
            why = ""
            try:
                r = subprocess.run(
                    [*bwrap_prefix(hostdir), "true"],
                    capture_output=True,
                    timeout=30,
                    env=sandbox_env("/tmp/work"),
                )
                ok = r.returncode == 0
                why = r.stderr.decode(errors="replace").strip()[:300]
            except (OSError, subprocess.TimeoutExpired) as e:
                ok, why = False, str(e)
            finally:
                fstree.remove(hostdir)
            _PROBE["mode"] = "bwrap" if ok else "none"
            _PROBE["why"] = why
            if not ok and cfg.isolation == "auto":
                kept = (
                    "as root, the fallback gives it its own mount, network and IPC namespaces, hides every "
                    "directory but the system's (/usr, /etc, /var, ...), and a seccomp filter; the system's "
                    "files stay readable and the pid namespace is shared"
                    if is_root()
                    else "it runs with resource limits and a seccomp filter only: NO private filesystem, NO "
                    "network isolation, NO private process namespace"
                )
                warnings.warn(
                    f"afterburner sandbox: bubblewrap (bwrap) does not work here ({why or 'not found'}); "
                    f"{kept}. Install bubblewrap (apt-get install bubblewrap) or allow user namespaces.",
                    RuntimeWarning,
                    stacklevel=3,
                )
    if cfg.isolation == "bwrap" and _PROBE["mode"] != "bwrap":
        raise SandboxError(f"isolation='bwrap' was asked for but bwrap does not work here: {_PROBE['why']}")
    return _PROBE["mode"]


class Worker:
    """One warm zygote (pinned to `cpu`), its pipes and its private host directory."""

    def __init__(self, cfg: SandboxConfig, mode: str, cpu: int | None) -> None:
        self.cfg, self.mode, self.cpu = cfg, mode, cpu
        self.hostdir = make_hostdir(cfg)
        self.sent: set[str] = set()
        py = [sys.executable, "-s", "-P", str(WORKER)]
        ids = ["--uid", str(cfg.sandbox_uid), "--gid", str(cfg.sandbox_uid)] if is_root() else []
        if mode == "bwrap":
            cmd = [
                *bwrap_prefix(self.hostdir, cfg.readonly_paths, max(256 << 20, 4 * cfg.file_size_bytes)),
                *py,
                *ids,
                "--work",
                "/tmp/work",
                "--tmp",
                "/tmp",
                "--ns",
                "1",
            ]
            home = "/tmp/work"
        else:
            home = os.path.join(self.hostdir, "work")
            cmd = [*py, *ids, "--work", home, "--tmp", self.hostdir, "--ns", "0"]

        fallback_as_root = mode == "none" and is_root()
        ro = needed_paths(cfg.readonly_paths)

        def pre() -> None:
            if cpu is not None:
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(0, {cpu})
            if fallback_as_root:  # no bubblewrap: namespaces and mounts of our own (see `fallback`)
                fallback.namespaces_as_root(ro, [self.hostdir])

        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=sandbox_env(home),
            start_new_session=True,
            preexec_fn=pre,
            close_fds=True,
        )
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        try:
            hello, _ = self.request({"op": "ping"}, [], timeout=30)
        except WorkerDied as e:
            self.close()
            raise SandboxError(f"the sandbox worker did not start ({e}); mode={mode}") from None
        self.pid_inside = hello.get("pid")

    def request(self, header: dict, blobs: list[bytes], timeout: float) -> tuple[dict, list[bytes]]:
        try:
            data = pack_msg(header, blobs)
            view = memoryview(data)
            while view:
                n = os.write(self.wfd, view)
                view = view[n:]
        except (BrokenPipeError, OSError) as e:
            raise WorkerDied(f"cannot write to the worker: {e}") from None
        return self._read(timeout)

    def _read_exact(self, n: int, deadline: float) -> bytes:
        chunks, left = [], n
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0:
                self.close()  # stopped (SIGSTOP?) or stuck: kill it, so the pool starts a new one
                raise WorkerDied("the sandbox worker stopped answering")
            ready, _, _ = select.select([self.rfd], [], [], wait)
            if not ready:
                continue
            b = os.read(self.rfd, min(left, 1 << 20))
            if not b:
                self.close()
                raise WorkerDied("the sandbox worker exited")
            chunks.append(b)
            left -= len(b)
        return b"".join(chunks)

    def _read(self, timeout: float) -> tuple[dict, list[bytes]]:
        deadline = time.monotonic() + timeout
        try:
            return read_msg(lambda n: self._read_exact(n, deadline))
        except (ValueError, TypeError, RecursionError):
            self.close()
            raise WorkerDied("the sandbox worker sent an unreadable message") from None

    def run(self, job: dict, blobs: list[tuple[str, bytes]]) -> tuple[dict, list[bytes]]:
        """Run one job in a fresh child; `blobs` are (key, bytes) inputs the worker caches by key."""
        if not self.alive():  # retired by the last job on it (see "unclean" below), or killed
            raise WorkerDied("the sandbox worker was retired: something the last run left could not be wiped")
        timeout = float(job.get("wall_s", self.cfg.timeout_s)) + 10.0  # the worker enforces wall_s itself
        keys = [k for k, _ in blobs]
        new = [(k, b) for k, b in blobs if k not in self.sent]
        header = {"op": "run", "job": job, "blob_keys": keys, "new_keys": [k for k, _ in new]}
        res, rblobs = self.request(header, [b for _, b in new], timeout)
        self.sent.update(k for k, _ in new)
        if "missing" in res:  # the worker evicted some: send them again
            again = [(k, b) for k, b in blobs if k in res["missing"]]
            header["new_keys"] = [k for k, _ in again]
            res, rblobs = self.request(header, [b for _, b in again], timeout)
        if res.pop("unclean", None):  # something the candidate left survived the wipe: retire this worker
            self.close()
        return res, rblobs

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.returncode is None:  # not reaped yet, so its pid (the group id) is still ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                f.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        fstree.remove(self.hostdir)  # iterative: no depth of directories defeats it


class SandboxBackend(Protocol):
    """One warm worker of an isolation backend, started by `start_worker`: bwrap and the fallback
    (`Worker`), docker (`docker_backend.DockerWorker`). All speak the pipe protocol to the same worker."""

    mode: str
    hostdir: str
    pid_inside: int | None

    def run(self, job: dict, blobs: list[tuple[str, bytes]]) -> tuple[dict, list[bytes]]:
        """Run one job in a fresh child; WorkerDied when the worker is gone or stops answering."""
        ...

    def alive(self) -> bool: ...

    def close(self) -> None:
        """Kill the worker and everything it started; remove its host directory."""
        ...


def start_worker(cfg: SandboxConfig, mode: str, cpu: int | None) -> SandboxBackend:
    """One warm worker in `mode`; docker's (a long-lived container) lives in `docker_backend`."""
    if mode == "docker":
        from afterburner.sandbox.docker_backend import DockerWorker

        return DockerWorker(cfg, mode, cpu)
    return Worker(cfg, mode, cpu)


class WorkerPool:
    """N warm workers, each pinned to its own core; `acquire()` lends a free one."""

    def __init__(self, cfg: SandboxConfig, workers: int | None = None) -> None:
        self.cfg = cfg
        self.mode = isolation_mode(cfg)
        cpus = sorted(os.sched_getaffinity(0))
        n = workers or len(cpus)
        self.cpus = [cpus[i % len(cpus)] if cfg.pin_cpus else None for i in range(n)]
        self._free: queue.Queue[int] = queue.Queue()
        self._workers: list[SandboxBackend | None] = [None] * n
        self._closed = False
        self._lock = threading.Lock()
        try:
            for i in range(n):
                self._workers[i] = start_worker(cfg, self.mode, self.cpus[i])
                self._free.put(i)
        except BaseException:
            self.close()
            raise

    @property
    def size(self) -> int:
        return len(self._workers)

    @contextlib.contextmanager
    def acquire(self) -> Iterator[SandboxBackend]:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        i = self._free.get()
        try:
            w = self._workers[i]
            if w is None or not w.alive():
                if w is not None:
                    w.close()
                w = self._workers[i] = start_worker(self.cfg, self.mode, self.cpus[i])
            yield w
        except WorkerDied:
            self.replace(i)
            raise
        finally:
            self._free.put(i)

    def replace(self, i: int) -> None:
        w = self._workers[i]
        if w is not None:
            w.close()
        self._workers[i] = None  # started again on the next acquire
        if self._closed:
            return

    def _process_trees(self) -> list[tuple[int | None, list[int]]]:
        """Per worker: the zygote's host pid and the pids below it (candidate leftovers)."""
        children: dict[int, list[int]] = {}
        cmd: dict[int, bytes] = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
                cmd[int(name)] = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(name))

        def below(pid: int) -> list[int]:
            out, todo = [], list(children.get(pid, ()))
            while todo:  # ancestors are always found before their descendants
                p = todo.pop()
                out.append(p)
                todo.extend(children.get(p, ()))
            return out

        trees = []
        for w in self._workers:
            if w is None:
                continue
            tree = [w.proc.pid, *below(w.proc.pid)]
            zygotes = [
                p
                for p in tree
                if WORKER.name.encode() in cmd.get(p, b"") and not cmd[p].split(b"\0")[0].endswith(b"bwrap")
            ]
            if not zygotes:
                trees.append((None, []))
                continue
            # the manager's own child is the template (it forks the runs): anything below it is a leftover
            manager = zygotes[0]
            template = [p for p in children.get(manager, ()) if WORKER.name.encode() in cmd.get(p, b"")]
            left = [p for p in below(manager) if p not in template[:1]]
            trees.append((manager, left))
        return trees

    def stray_processes(self) -> list[int]:
        """Host pids of processes left behind by candidates (descendants of the zygotes): should be none."""
        return [p for _, below in self._process_trees() for p in below]

    def zygote_pids(self) -> list[int]:
        """Host pids of the warm workers (for benchmarks: their CPU time in /proc)."""
        return [z for z, _ in self._process_trees() if z is not None]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for i, w in enumerate(self._workers):
                if w is not None:
                    w.close()
                    self._workers[i] = None
