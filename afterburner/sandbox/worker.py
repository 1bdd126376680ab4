"""The warm worker that runs inside the sandbox: a manager and a pristine template.

Stdlib only; started by `afterburner.sandbox.pool` as ``python -s -P worker.py [--uid U --gid G] --work DIR
--tmp DIR --ns 0|1 [--isolate unshare --ro PATHS]`` (or ``--oneshot 1`` for one job in its own process,
for callgrind). After warming up (imports, one harness run on built-in code) the process forks a
*template* and becomes the *manager*:

- the manager speaks the `protocol` with the parent on fds 0/1, keeps the input blobs, sends each job
  to its child over a fresh pipe, enforces the wall timeout and the output cap, reads the result, and
  wipes the writable directories after every run;
- the template never sees a job: on "spawn" it receives three pipe ends (job in, result out, output
  out) over a unix socket, forks the child that runs `harness.child_main`, hands the manager a pidfd
  of it, waits for it with ``wait4`` and reports the kernel's rusage (CPU time, peak RSS) and exit.

So a child holds the template's memory (the warm-up, nothing of any job) plus its own job, never an
earlier job's inputs, outputs or digests; and the figures that matter (CPU time, peak RSS, the RSS
before the candidate started) come from the template's ``wait4`` and the harness's "ready" message,
written before any candidate code ran. Both processes are not dumpable (no ptrace, no /proc/<pid>/mem);
the child's seccomp filter forbids new processes, so the child is the only process of a run.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pickle
import re
import select
import signal
import socket
import struct
import sys
import time

# our stdlib-only siblings, imported by their own names (this file runs as a script, never as a
# package module); the names are dropped from sys.modules so candidate code cannot import them by name
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import fstree  # noqa: E402
import harness  # noqa: E402
from protocol import pack_msg, read_msg, unpack_msg, write_all  # noqa: E402

sys.path.pop(0)
for _name in ("codec", "protocol", "harness", "fstree", "seccomp", "projectmode"):
    sys.modules.pop(_name, None)

READY_KEYS = {"ready", "rss", "seccomp"}
RUSAGE_WAIT_S = 30.0  # how long the template may take to report a reaped child
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
TAIL = harness.TAIL
PREIMPORTS = (
    "collections",
    "heapq",
    "bisect",
    "itertools",
    "functools",
    "math",
    "string",
    "re",
    "operator",
    "random",
    "typing",
    "dataclasses",
    "tracemalloc",
    "copy",
    "decimal",
    "fractions",
    "statistics",
    "dis",
    "ctypes",
)  # what candidates and the harness commonly import: paid once here, not in every child
# heavy libraries the template imports the first time a job's module (or its tests) imports them, so a
# child's CPU time is the code's and not the import's (numpy ~100 ms, scipy.signal or scipy.stats over
# 1 s on a slow machine). Only names under these roots travel to the template, never job data.
HEAVY_ROOTS = ("numpy", "scipy", "pandas")
_IMPORT_RE = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+?)[ \t]*(?:#.*)?$", re.M)
_FROM_RE = re.compile(r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+\(?([\w \t,]+)", re.M)
_MODULE_RE = re.compile(r"^(?:numpy|scipy|pandas)(?:\.[A-Za-z_]\w*){0,4}$")


def heavy_imports(source: str) -> list[str]:
    """The modules under `HEAVY_ROOTS` that `source` imports (``import numpy as np``, ``import
    scipy.linalg``, ``from scipy import signal`` -> numpy, scipy.linalg, scipy and scipy.signal)."""
    names = []
    for m in _IMPORT_RE.finditer(source):
        names += [part.split()[0] for part in m.group(1).split(",") if part.strip()]
    for m in _FROM_RE.finditer(source):
        names.append(m.group(1))
        names += [f"{m.group(1)}.{part.split()[0]}" for part in m.group(2).split(",") if part.strip()]
    return [n for n in names if n.split(".")[0] in HEAVY_ROOTS]


def _import_heavy(msg: bytes, tried: set[str]) -> None:
    """The template's side: import the named heavy modules it has not tried (failures are ignored:
    the child then imports, or fails to import, them itself), then freeze them as at start-up."""
    import gc
    import importlib

    names = [n for n in msg.decode("ascii", "replace").split()[1:] if _MODULE_RE.match(n) and n not in tried]
    for name in names[:64]:
        tried.add(name)
        with contextlib.suppress(Exception):
            importlib.import_module(name)  # `from scipy import signal`: scipy.signal is a module, or not
    gc.collect()
    gc.freeze()  # the children's collector leaves the new modules' pages alone


def template_loop(sock: socket.socket, workdir: str) -> None:
    """The pristine forker: never reads a job, only pipe ends (and the names of heavy libraries to
    import, see `Manager._preimport`); reports each child's rusage."""
    tried: set[str] = set()
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 4096, 3)
        except OSError:
            os._exit(0)
        if msg.startswith(b"import ") and not fds:
            _import_heavy(msg, tried)
            sock.send(b"ok")
            continue
        if not msg or len(fds) != 3:
            os._exit(0)
        job_r, res_w, out_w = fds
        pid = os.fork()
        if pid == 0:
            sock.close()
            harness.child_main(job_r, res_w, out_w, workdir)
            os._exit(0)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        socket.send_fds(sock, [struct.pack("<i", pid)], [pidfd])
        os.close(pidfd)
        _, status, ru = os.wait4(pid, 0)
        info = {"cpu": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss * 1024}
        if os.WIFSIGNALED(status):
            info["signal"] = os.WTERMSIG(status)
        else:
            info["exit_code"] = os.WEXITSTATUS(status)
        sock.send(json.dumps(info).encode())


class Manager:
    def __init__(self, workdir: str, tmpdir: str, ns: bool, sock: socket.socket) -> None:
        self.workdir, self.tmpdir, self.ns, self.sock = workdir, tmpdir, ns, sock
        self.blobs: dict[str, bytes] = {}
        self.blob_bytes = 0
        self.imported: set[str] = set()

    def _preimport(self, job: dict) -> None:
        """Have the template import the heavy libraries the job's sources name, before the timed run."""
        sources = [src for key in ("parts", "check_parts") for _, src in job.get(key) or () if src]
        named = {n for src in sources for n in heavy_imports(src) if _MODULE_RE.match(n)}
        new = sorted(named - self.imported)
        if not new:
            return
        self.imported.update(new)
        try:
            self.sock.send(("import " + " ".join(new)).encode("ascii"))
            ready, _, _ = select.select([self.sock], [], [], 300.0)
            if not ready or self.sock.recv(16) != b"ok":
                os._exit(3)
        except OSError:
            os._exit(3)

    def wipe(self) -> int:
        """Empty the writable directories; the number of entries that could not be removed."""
        left = fstree.clear(self.tmpdir, keep=frozenset([os.path.basename(self.workdir)]))
        left += fstree.clear(self.workdir)
        if self.ns:
            left += fstree.clear("/dev/shm")
        os.makedirs(self.workdir, exist_ok=True)
        return left

    def _spawn(self) -> tuple[int, int, int, int, int]:
        """A child from the template: (pid, pidfd, job_w, res_r, out_r)."""
        job_r, job_w = os.pipe()
        res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            socket.send_fds(self.sock, [b"spawn"], [job_r, res_w, out_w])
            msg, fds, _, _ = socket.recv_fds(self.sock, 64, 1)
        except OSError:
            os._exit(3)  # the template is gone (the candidate killed it): the parent starts a new worker
        for fd in (job_r, res_w, out_w):
            os.close(fd)
        if len(msg) != 4 or len(fds) != 1:
            os._exit(3)
        (pid,) = struct.unpack("<i", msg)
        return pid, fds[0], job_w, res_r, out_r

    def _rusage(self) -> dict:
        """The template's report on the child it reaped; a template that does not answer ends us."""
        # the child is dead by now (killed or exited); reaping a large one on a loaded machine can take
        # seconds, so only a template that stays silent this long is taken as stopped (SIGSTOP) or stuck
        ready, _, _ = select.select([self.sock], [], [], RUSAGE_WAIT_S)
        if not ready:
            os._exit(3)
        try:
            data = self.sock.recv(4096)
            info = json.loads(data)
        except (OSError, ValueError):
            os._exit(3)
        if not data or not isinstance(info, dict):
            os._exit(3)
        return info

    def run(self, job: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        self._preimport(job)
        left = self.wipe()
        wall_s = float(job.get("wall_s", 10.0))
        t0 = time.perf_counter()
        pid, pidfd, job_w, res_r, out_r = self._spawn()
        statm = None
        if job.get("memory"):
            with contextlib.suppress(OSError):
                statm = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
        got = _Pump(job, pack_msg(job, blobs), pidfd, job_w, res_r, out_r, statm).until(t0 + wall_s)
        wall = time.perf_counter() - t0
        if not got.exited or got.verdict:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # its session (the child is a session leader)
        info = self._rusage()
        for fd in (pidfd, res_r, out_r, got.job_w, statm):
            if fd is not None:
                os.close(fd)
        left += self.wipe()
        info.update(wall=wall, stdout_tail=got.out_tail.decode("utf-8", "replace"), stdout_bytes=got.out_len)
        header, rblobs = self._result(b"".join(got.res_chunks), info, got.verdict, job)
        if got.rss_samples:
            base = header.get("rss_ready", 0)
            header["rss_mean"] = max(0.0, sum(got.rss_samples) / len(got.rss_samples) - base)
        if left:
            header["unclean"] = left  # something survived the wipe: the parent retires this worker
        return header, rblobs

    def _result(self, data: bytes, info: dict, verdict: str | None, job: dict) -> tuple[dict, list[bytes]]:
        rss_ready, trusted, pos = None, {}, 0
        with contextlib.suppress(ValueError):
            first, first_blobs, end = unpack_msg(data, 0)
            if first.get("ready") == 1 and not first_blobs and set(first) <= READY_KEYS:
                # written by the harness before any candidate code ran: the only message it could not forge
                pos = end
                if type(first.get("rss")) is int:
                    rss_ready = first["rss"]
                trusted["seccomp"] = first.get("seccomp") is True
        header, rblobs = None, []
        if verdict is None and pos < len(data):
            try:
                header, rblobs, _ = unpack_msg(data, pos)
                if "status" not in header:
                    raise ValueError
            except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
                header, rblobs = (
                    {
                        "status": "runtime_error",
                        "error": "the child wrote an unreadable result (did the candidate write to fd 3?)",
                    },
                    [],
                )
        if verdict is not None:
            header = {"status": verdict}
        elif header is None:
            header = self._classify_silent_death(info, job)
        for k in ("cpu", "wall", "maxrss", "rss_ready", "rss_mean", "signal", "exit_code", "unclean"):
            header.pop(k, None)  # the parent's side only: never a figure the child wrote
        header.update(info, **trusted)
        if rss_ready is not None:
            header["rss_ready"] = rss_ready
        return header, rblobs

    @staticmethod
    def _classify_silent_death(info: dict, job: dict) -> dict:
        sig = info.get("signal")
        lim = job.get("limits", {})
        if sig in (signal.SIGXCPU,) or (
            sig == signal.SIGKILL and lim.get("cpu_s") and info["cpu"] >= lim["cpu_s"]
        ):
            return {"status": "timeout", "error": f"CPU time limit ({lim.get('cpu_s')} s) exceeded"}
        if sig == signal.SIGXFSZ:
            return {"status": "output_exceeded", "error": "file size limit exceeded"}
        if sig == signal.SIGSYS:
            return {
                "status": "runtime_error",
                "error": "a forbidden system call (seccomp) killed the process",
            }
        if sig is not None:
            as_bytes = lim.get("as_bytes")
            if as_bytes and info["maxrss"] > 0.8 * as_bytes:
                return {"status": "memory_exceeded", "error": f"killed by signal {sig} near the memory limit"}
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            return {"status": "runtime_error", "error": f"the process was killed by {name}"}
        return {
            "status": "runtime_error",
            "error": f"the process exited with code {info.get('exit_code')} before returning a result "
            "(sys.exit or os._exit in the candidate?)",
        }

    def serve(self, rfd: int, wfd: int) -> None:
        while True:
            try:
                header, blobs = read_msg(rfd)
            except EOFError:
                return
            op = header.get("op")
            if op == "ping":
                write_all(wfd, pack_msg({"ok": True, "pid": os.getpid(), "uid": os.getuid()}))
            elif op == "run":
                for key, blob in zip(header.get("new_keys", ()), blobs, strict=False):
                    self._store(key, blob)
                missing = [k for k in header.get("blob_keys", ()) if k not in self.blobs]
                if missing:
                    write_all(wfd, pack_msg({"missing": missing}))
                    continue
                res, rblobs = self.run(header["job"], [self.blobs[k] for k in header.get("blob_keys", ())])
                write_all(wfd, pack_msg(res, rblobs))
            else:
                write_all(wfd, pack_msg({"error": f"unknown op {op!r}"}))
            del header, blobs  # nothing of this job lingers in our frames (the next fork is not ours anyway)

    def _store(self, key: str, blob: bytes) -> None:
        limit = 512 << 20
        while self.blobs and self.blob_bytes + len(blob) > limit:
            old = next(iter(self.blobs))
            self.blob_bytes -= len(self.blobs.pop(old))
        self.blobs[key] = blob
        self.blob_bytes += len(blob)


class _Pump:
    """One job's pipes while its child runs: the job written in, the result and stdout read out (the
    stdout as a capped tail), the child's RSS sampled (when `statm` is open), until the child exits and
    its pipes close, a cap is passed (``output_exceeded``) or the deadline (``timeout``)."""

    def __init__(
        self, job: dict, payload: bytes, pidfd: int, job_w: int, res_r: int, out_r: int, statm: int | None
    ) -> None:
        self.payload = memoryview(payload)
        self.pidfd, self.res_r, self.statm = pidfd, res_r, statm
        self.job_w: int | None = job_w
        self.out_cap = int(job.get("output_cap", 1 << 20))
        self.res_cap = int(job.get("result_cap", 1 << 28))
        self.open_fds = {res_r, out_r}
        self.res_chunks: list[bytes] = []
        self.res_len, self.out_len = 0, 0
        self.out_tail = bytearray()
        self.rss_samples: list[int] = []
        self.verdict: str | None = None
        self.exited = False
        os.set_blocking(job_w, False)

    def until(self, deadline: float) -> _Pump:
        page = os.sysconf("SC_PAGE_SIZE")
        while self.open_fds or not self.exited:
            left_s = deadline - time.perf_counter()
            if left_s <= 0:
                self.verdict = self.verdict or "timeout"
                break
            fds = [*self.open_fds] + ([] if self.exited else [self.pidfd])
            wfds = [self.job_w] if self.job_w is not None else []
            wait = min(left_s, 0.002) if self.statm is not None else left_s
            ready, writable, _ = select.select(fds, wfds, [], wait)
            if self.statm is not None:
                try:
                    self.rss_samples.append(int(os.pread(self.statm, 64, 0).split()[1]) * page)
                except (OSError, ValueError, IndexError):
                    pass
            if writable:
                self._write_job()
            for fd in ready:
                if fd == self.pidfd:
                    self.exited = True
                    if self.open_fds:  # give stray writers a moment, then stop listening
                        deadline = min(deadline, time.perf_counter() + 0.5)
                    continue
                self._read(fd)
            if self.verdict or (self.exited and not self.open_fds):
                break
        if self.verdict == "timeout" and self.exited:
            self.verdict = None  # the child finished; only its pipes were still open
        return self

    def _write_job(self) -> None:
        try:
            n = os.write(self.job_w, self.payload[: 1 << 16])
            self.payload = self.payload[n:]
        except BlockingIOError:
            pass
        except OSError:  # the child is gone
            self.payload = self.payload[:0]
        if not self.payload:
            os.close(self.job_w)
            self.job_w = None

    def _read(self, fd: int) -> None:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            self.open_fds.discard(fd)
        elif fd == self.res_r:
            self.res_chunks.append(chunk)
            self.res_len += len(chunk)
            if self.res_len > self.res_cap:
                self.verdict = "output_exceeded"
        else:
            self.out_len += len(chunk)
            self.out_tail += chunk
            if len(self.out_tail) > TAIL:
                del self.out_tail[: len(self.out_tail) - TAIL]
            if self.out_len > self.out_cap:
                self.verdict = "output_exceeded"


def _warm_up() -> None:
    """Run the harness once on a built-in module (not candidate code), so the lazy first-use costs
    (hashlib, json, pickle, compile) are paid here once and not in every child."""
    job = {
        "kind": "call",
        "parts": [["<warm-up>", "def f(n):\n    return [n, (n,), {n: {n}}]\n"]],
        "entry": ["f", False, None],
    }
    harness._STATE["ready"] = True  # no "ready" message from the warm-up
    try:
        harness.JOBS["call"](job, [pickle.dumps([((1,), {})])])
    except harness.Result as r:
        pack_msg(r.header, r.blobs)
    finally:
        harness._STATE["ready"] = False
    sys.modules.pop("candidate", None)


def _drop_privileges(args: dict) -> None:
    if "--uid" in args:  # started as root (inside bwrap with only CAP_SETUID/SETGID): drop for good
        gid, uid = int(args["--gid"]), int(args["--uid"])
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)


def main(argv: list[str]) -> None:
    args = dict(zip(argv[0::2], argv[1::2], strict=False))
    if args.get("--isolate") == "unshare":  # no bubblewrap: the same namespaces, set up by ourselves
        sys.path.insert(0, _HERE)
        import isolate

        sys.path.pop(0)
        sys.modules.pop("isolate", None)
        isolate.enter(args)
    _drop_privileges(args)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # the candidate cannot open /proc/<us>/fd or ptrace us
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if args.get("--oneshot") == "1":  # one job in this very process (callgrind): result on stdout
        header, blobs = read_msg(0)
        res_w = os.dup(1)
        null = os.open("/dev/null", os.O_WRONLY)
        os.makedirs(args["--work"], exist_ok=True)
        harness.run_child(header["job"], blobs, res_w, null, args["--work"])
        os._exit(0)
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a broken pipe is an error we see, not a silent death
    for name in PREIMPORTS:
        with contextlib.suppress(ImportError):
            __import__(name)
    _warm_up()
    import gc

    gc.collect()
    gc.freeze()  # children do not dirty (copy) every page of ours when their collector runs
    os.makedirs(args["--work"], exist_ok=True)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if os.fork() == 0:  # the template: before any job, with nothing but the warm-up in memory
        ours.close()
        os.close(rfd)
        os.close(wfd)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        template_loop(theirs, args["--work"])
        os._exit(0)
    theirs.close()
    Manager(args["--work"], args["--tmp"], args.get("--ns") == "1", ours).serve(rfd, wfd)


if __name__ == "__main__":
    main(sys.argv[1:])
