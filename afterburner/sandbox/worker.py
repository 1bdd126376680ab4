"""The warm worker ("zygote") that runs inside the sandbox.

Stdlib only; started by `afterburner.sandbox.pool` as ``python -s -P worker.py [--uid U --gid G] --work DIR
--tmp DIR --ns 0|1`` (or ``--oneshot 1`` for one job in its own process, for callgrind). It speaks the
`protocol` on fds 0/1 and never runs candidate code itself: for every job it forks a child that runs
`harness.run_child`, so each run starts from the same clean state. The zygote waits for the child with
``wait4`` (the CPU time and peak RSS it reports come from the kernel, not from the candidate), enforces
the wall timeout and the output cap, kills every process the child left behind, reaps them (it is a
child subreaper, so their CPU time counts too) and wipes the work directories.
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
import struct
import sys
import time

# our stdlib-only siblings, imported by their own names (this file runs as a script, never as a
# package module); the names are dropped from sys.modules so candidate code cannot import them by name
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import harness  # noqa: E402
from protocol import _HDR, pack_msg, read_msg, write_all  # noqa: E402

sys.path.pop(0)
for _name in ("codec", "protocol", "harness"):
    sys.modules.pop(_name, None)

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
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
)  # what candidates and the harness commonly import: paid once here, not in every child
# heavy libraries imported here the first time a job's module (or its tests) imports them at the top,
# so a child forked for a timed run does not pay their import in its CPU time (numpy alone is ~100 ms,
# scipy.signal or scipy.stats over 1 s on a slow machine): the time measured is the code's, not the import's
HEAVY_ROOTS = ("numpy", "scipy", "pandas")
_IMPORT_RE = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+?)[ \t]*(?:#.*)?$", re.M)
_FROM_RE = re.compile(r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+\(?([\w \t,]+)", re.M)


def _clear(d: str, keep: str) -> None:
    """Remove everything below `d` but `keep` and read-only mounts (host paths bound into the sandbox,
    and the directories that lead to them), whatever permissions the candidate left on it."""
    try:
        os.chmod(d, 0o700)
        names = os.listdir(d)
    except OSError:
        return
    for name in names:
        p = os.path.join(d, name)
        try:
            if os.path.abspath(p) == keep:
                continue
            if os.path.islink(p) or not os.path.isdir(p):
                os.unlink(p)
            elif not os.statvfs(p).f_flag & os.ST_RDONLY:
                _clear(p, keep)
                os.rmdir(p)  # fails, and the directory stays, when a read-only mount lies below it
        except OSError:
            pass


class Zygote:
    def __init__(self, workdir: str, tmpdir: str, ns: bool) -> None:
        self.workdir, self.tmpdir, self.ns = workdir, tmpdir, ns
        self.blobs: dict[str, bytes] = {}
        self.blob_bytes = 0

    # --- cleaning up after a child
    def _descendants(self) -> list[int]:
        """Every process below us. Orphans are reparented to us (subreaper), so walking the
        children lists from here finds them all; the full /proc scan is the fallback."""
        me = os.getpid()
        if not os.path.exists(f"/proc/{me}/task/{me}/children"):
            return self._scan_descendants()
        out, todo = [], [me]
        while todo:
            pid = todo.pop()
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{tid}/children") as f:
                        kids = [int(x) for x in f.read().split()]
                    out.extend(kids)
                    todo.extend(kids)
            except (OSError, ValueError):  # it exited while we looked
                continue
        return out

    def _scan_descendants(self) -> list[int]:
        me = os.getpid()
        parent = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat", "rb") as f:
                        stat = f.read()
                    parent[int(name)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
                except (OSError, ValueError):
                    continue
        out, frontier = [], {me}
        while frontier:
            nxt = {p for p, pp in parent.items() if pp in frontier and p != me}
            nxt -= set(out)
            out.extend(nxt)
            frontier = nxt
        return out

    def kill_all(self, pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        if self.ns:  # our own pid namespace: everything but pid 1 (bwrap) and us
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            return
        for _ in range(50):  # no namespace: every descendant (we are a subreaper, orphans come to us)
            pids = self._descendants()
            if not pids:
                return
            for p in pids:
                with contextlib.suppress(OSError):
                    os.kill(p, signal.SIGKILL)

    def reap(self, pid: int) -> tuple[float, int]:
        """Wait for every child left (the killed ones); their CPU seconds and max RSS."""
        cpu, rss = 0.0, 0
        deadline = time.monotonic() + 5.0
        while True:
            try:
                got, _status, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return cpu, rss
            except InterruptedError:
                continue
            if got == 0:  # some still alive: kill again, wait a moment
                if time.monotonic() > deadline:
                    return cpu, rss
                self.kill_all(pid)
                time.sleep(0.0005)
                continue
            cpu += ru.ru_utime + ru.ru_stime
            rss = max(rss, ru.ru_maxrss)

    def wipe(self) -> None:
        dirs = [self.tmpdir, self.workdir] + (["/dev/shm"] if self.ns else [])
        for d in dirs:
            _clear(d, keep=os.path.abspath(self.workdir))
        os.makedirs(self.workdir, exist_ok=True)

    # --- one job
    def run(self, job: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        _preimport_heavy(job)
        res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        self.wipe()
        wall_s = float(job.get("wall_s", 10.0))
        out_cap = int(job.get("output_cap", 1 << 20))
        res_cap = int(job.get("result_cap", 1 << 28))
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(res_r)
                os.close(out_r)
                harness.run_child(job, blobs, res_w, out_w, self.workdir)
            finally:
                os._exit(0)
        os.close(res_w)
        os.close(out_w)
        pidfd = os.pidfd_open(pid)
        res_chunks, res_len, out_tail, out_len = [], 0, bytearray(), 0
        verdict = None
        open_fds = {res_r, out_r}
        exited = False
        deadline = t0 + wall_s
        while open_fds or not exited:
            left = deadline - time.perf_counter()
            if left <= 0:
                verdict = verdict or "timeout"
                break
            fds = [*open_fds] + ([] if exited else [pidfd])
            ready, _, _ = select.select(fds, [], [], left)
            for fd in ready:
                if fd == pidfd:
                    exited = True
                    if open_fds:  # give stray writers a moment, then stop listening
                        deadline = min(deadline, time.perf_counter() + 0.5)
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.discard(fd)
                    continue
                if fd == res_r:
                    res_chunks.append(chunk)
                    res_len += len(chunk)
                    if res_len > res_cap:
                        verdict = "output_exceeded"
                else:
                    out_len += len(chunk)
                    out_tail += chunk
                    if len(out_tail) > TAIL:
                        del out_tail[: len(out_tail) - TAIL]
                    if out_len > out_cap:
                        verdict = "output_exceeded"
            if verdict:
                break
            if exited and not open_fds:
                break
        wall = time.perf_counter() - t0
        if verdict == "timeout" and exited:
            verdict = None  # the child finished; only stray descendants held the pipes
        if not exited or verdict:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _, status, ru = os.wait4(pid, 0)
        self.kill_all(pid)
        extra_cpu, extra_rss = self.reap(pid)
        os.close(pidfd)
        for fd in (res_r, out_r):
            os.close(fd)
        self.wipe()
        cpu = ru.ru_utime + ru.ru_stime + extra_cpu
        info = {
            "cpu": cpu,
            "wall": wall,
            "maxrss": max(ru.ru_maxrss, extra_rss) * 1024,
            "stdout_tail": out_tail.decode("utf-8", "replace"),
            "stdout_bytes": out_len,
        }
        if os.WIFSIGNALED(status):
            info["signal"] = os.WTERMSIG(status)
        else:
            info["exit_code"] = os.WEXITSTATUS(status)
        header, rblobs = None, []
        if verdict is None and res_chunks:
            try:
                data = b"".join(res_chunks)
                (n,) = _HDR.unpack_from(data, 0)
                header = json.loads(data[4 : 4 + n])
                pos = 4 + n
                for size in header.get("blob_sizes", ()):
                    rblobs.append(data[pos : pos + size])
                    pos += size
                if not isinstance(header, dict) or "status" not in header:
                    raise ValueError
            except (ValueError, TypeError, struct.error, UnicodeDecodeError, RecursionError):
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
        header.pop("blob_sizes", None)
        header.update(info)
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

    def _store(self, key: str, blob: bytes) -> None:
        limit = 512 << 20
        while self.blobs and self.blob_bytes + len(blob) > limit:
            old = next(iter(self.blobs))
            self.blob_bytes -= len(self.blobs.pop(old))
        self.blobs[key] = blob
        self.blob_bytes += len(blob)


_TRIED: set[str] = set()


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


def _preimport_heavy(job: dict) -> None:
    """Import the heavy libraries the job's sources name, once per worker (failures are ignored: the
    child then imports, or fails to import, them itself). These are installed packages found on the
    worker's own sys.path, never the candidate's files (the worker runs with -s -P)."""
    sources = [src for key in ("parts", "check_parts") for _, src in job.get(key) or () if src]
    new = [n for src in sources for n in heavy_imports(src) if n not in _TRIED]
    if not new:
        return
    import gc
    import importlib

    for name in new:
        _TRIED.add(name)
        with contextlib.suppress(Exception):
            importlib.import_module(name)  # `from scipy import signal`: scipy.signal is a module, or not
    gc.collect()
    gc.freeze()  # as at start-up: the children's collector leaves the new modules' pages alone


def _warm_up() -> None:
    """Run the harness once on a built-in module (not candidate code), so the lazy first-use costs
    (hashlib, json, pickle, compile) are paid here once and not in every child."""
    job = {
        "kind": "call",
        "parts": [["<warm-up>", "def f(n):\n    return [n, (n,), {n: {n}}]\n"]],
        "entry": ["f", False, None],
    }
    try:
        harness.JOBS["call"](job, [pickle.dumps([((1,), {})])])
    except harness.Result as r:
        pack_msg(r.header, r.blobs)
    sys.modules.pop("candidate", None)


def main(argv: list[str]) -> None:
    args = dict(zip(argv[0::2], argv[1::2], strict=False))
    if "--uid" in args:  # started as root inside bwrap (with only CAP_SETUID/SETGID): drop for good
        gid, uid = int(args["--gid"]), int(args["--uid"])
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # the candidate cannot open /proc/<us>/fd or ptrace us
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans come to us: we reap them and count their CPU
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
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for name in PREIMPORTS:
        with contextlib.suppress(ImportError):
            __import__(name)
    _warm_up()
    import gc

    gc.collect()
    gc.freeze()  # children do not dirty (copy) every page of ours when their collector runs
    zyg = Zygote(args["--work"], args["--tmp"], args.get("--ns") == "1")
    zyg.serve(rfd, wfd)


if __name__ == "__main__":
    main(sys.argv[1:])
