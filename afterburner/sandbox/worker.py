"""The warm worker ("zygote") that runs inside the sandbox, and the harness run in each forked child.

Stdlib only; started by `afterburner.sandbox.pool` as ``python -I worker.py [--uid U --gid G] --work DIR
--tmp DIR [--ns]``. It speaks length-prefixed JSON on fds 0/1 (see `read_msg`/`write_msg`) and never
runs candidate code itself: for every job it forks a child that does, so each run starts from the
same clean state. The zygote waits for the child with ``wait4`` (the CPU time and peak RSS it reports
come from the kernel, not from the candidate), enforces the wall timeout and the output cap, kills
every process the child left behind, reaps them (it is a child subreaper, so their CPU time counts
too) and wipes the work directories.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import pickle
import resource
import select
import shutil
import signal
import struct
import sys
import time
import traceback
from array import array

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import codec  # noqa: E402

sys.path.pop(0)
del sys.modules["codec"]  # the candidate cannot `import codec` to reach our copy by name
for _m in (
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
    "dis",  # the profile sampler maps loop jumps to lines
):
    with contextlib.suppress(ImportError):
        __import__(_m)

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
_HDR = struct.Struct("<I")
_BLOB = struct.Struct("<Q")
TAIL = 2000


# ---------------------------------------------------------------- framing
def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        b = os.read(fd, min(left, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_msg(fd: int) -> tuple[dict, list[bytes]]:
    """One message: u32 header length, JSON header, then ``header["blob_sizes"]`` raw blobs."""
    (n,) = _HDR.unpack(_read_exact(fd, _HDR.size))
    header = json.loads(_read_exact(fd, n))
    blobs = [_read_exact(fd, size) for size in header.get("blob_sizes", ())]
    return header, blobs


def pack_msg(header: dict, blobs: list[bytes] = ()) -> bytes:
    header = dict(header, blob_sizes=[len(b) for b in blobs])
    body = json.dumps(header).encode()
    return b"".join([_HDR.pack(len(body)), body, *blobs])


# ---------------------------------------------------------------- the child (runs candidate code)
def _tail(text: str, limit: int = TAIL) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def _exc_info(e: BaseException) -> str:
    """The traceback without the harness's own frames, cut to its tail."""
    try:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename != __file__]
        lines = ["Traceback (most recent call last):\n"] if frames else []
        lines += traceback.format_list(frames) + traceback.format_exception_only(type(e), e)
        return _tail("".join(lines))
    except BaseException:
        return type(e).__name__


def _exc_status(e: BaseException) -> str:
    return "memory_exceeded" if isinstance(e, MemoryError) else "runtime_error"


def _load_module(parts: list) -> dict:
    import types

    mod = types.ModuleType("candidate")
    sys.modules["candidate"] = mod
    for filename, src in parts:
        if src:
            exec(compile(src, filename, "exec"), mod.__dict__)
    return mod.__dict__


class _Result(Exception):
    def __init__(self, header: dict, blobs: list[bytes] = ()) -> None:
        self.header, self.blobs = header, list(blobs)


def _compile_all(parts: list) -> None:
    try:
        for filename, src in parts:
            compile(src, filename, "exec")
    except (SyntaxError, ValueError) as e:  # ValueError: null bytes in source
        raise _Result({"status": "syntax_error", "error": _exc_info(e)}) from None


def _resolve(ns: dict, entry: list):
    name, instantiate, method = entry
    if name not in ns:
        raise _Result({"status": "missing_entry_point", "error": f"the code does not define {name!r}"})
    obj = ns[name]
    if method is None:
        if not callable(obj):
            raise _Result({"status": "missing_entry_point", "error": f"{name!r} is not callable"})
        return obj
    if not hasattr(obj, method):
        raise _Result({"status": "missing_entry_point", "error": f"{name!r} has no attribute {method!r}"})
    if instantiate:
        return lambda *a, **k: getattr(obj(), method)(*a, **k)  # a fresh instance per call
    return getattr(obj, method)


def _inputs(blobs: list[bytes]) -> list:
    out = []
    for b in blobs:
        out.extend(pickle.loads(b))
    return out


_JUMPS: dict = {}


def _sample_line(f) -> int:
    """The line a profile sample is charged to. CPython runs the handler at calls and backward jumps;
    a sample taken at a loop's JUMP_BACKWARD (which carries the last body line, or none) is charged to
    the loop's header, the line it jumps to: the time went to the loop, not to its last statement."""
    co, lasti = f.f_code, f.f_lasti
    jumps = _JUMPS.get(co)
    if jumps is None:
        import dis

        jumps = _JUMPS[co] = {
            i.offset: i.argval for i in dis.get_instructions(co) if i.opname == "JUMP_BACKWARD"
        }
    target = jumps.get(lasti)
    if target is not None:
        return _line_of(co, target)
    return f.f_lineno or _line_of(co, lasti)


def _line_of(co, lasti: int) -> int:
    """The source line of a bytecode offset (f_lineno is None on some instructions in 3.11)."""
    last = co.co_firstlineno
    for start, end, line in co.co_lines():
        if line is not None and start <= lasti:
            last = line
        if start <= lasti < end:
            break
    return last


class _Sampler:
    """ITIMER_PROF sampler: traced memory over CPU time, and the candidate's stack (profile)."""

    N = 1 << 18

    def __init__(self) -> None:
        self.t = array("d", bytes(8 * self.N))
        self.m = array("d", bytes(8 * self.N))
        self.i = 0
        self.samples = 0
        self.lines: dict = {}
        self.funcs: dict = {}
        self.base = 0

    def handler(self, signum, frame) -> None:
        import tracemalloc

        i = self.i
        if i < self.N:
            self.t[i] = time.process_time()
            self.m[i] = tracemalloc.get_traced_memory()[0] - self.base
            self.i = i + 1
        self.samples += 1
        inner, seen, f = True, set(), frame
        while f is not None:
            co = f.f_code
            if co.co_filename == "<candidate>":
                name = co.co_qualname
                if inner:
                    key = (name, _sample_line(f))
                    self.lines[key] = self.lines.get(key, 0) + 1
                    inner = False
                if name not in seen:
                    seen.add(name)
                    self.funcs[name] = self.funcs.get(name, 0) + 1
            f = f.f_back


def _call_all(fn, inputs: list, job: dict, sampler: _Sampler | None) -> dict:
    want_outputs = job.get("outputs", True)
    digest_n = job.get("digest_count", len(inputs))
    h = hashlib.sha256()
    outputs = []
    for idx, (args, kwargs) in enumerate(inputs):
        try:
            got = fn(*args, **kwargs)
            enc = codec.encode(got)
            del got
        except _Result:
            raise
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: the candidate raised them
            if sampler is not None:
                signal.setitimer(signal.ITIMER_PROF, 0)
            raise _Result(
                {"status": _exc_status(e), "error": _exc_info(e), "index": idx, "outputs": outputs}
            ) from None
        if idx < digest_n:
            h.update(codec._canon(enc).encode())
            h.update(b"\n")
        if want_outputs:
            outputs.append(enc)
    return {
        "status": "ok",
        "digest": h.hexdigest(),
        "n": len(inputs),
        "outputs": outputs if want_outputs else None,
    }


def _job_call(job: dict, blobs: list[bytes]) -> _Result:
    _compile_all(job["parts"])
    try:
        ns = _load_module(job["parts"])
        fn = _resolve(ns, job["entry"])
    except _Result:
        raise
    except BaseException as e:
        raise _Result({"status": _exc_status(e), "error": _exc_info(e), "index": -1}) from None
    inputs = _inputs(blobs)  # after the module: inputs may hold instances of the prelude's classes
    if not job.get("memory"):
        rss0 = _rss()
        out = _call_all(fn, inputs, job, None)
        out["rss_start"] = rss0
        return _Result(out)
    return _Result(_traced(lambda sampler: _call_all(fn, inputs, job, sampler), job))


def _traced(run, job: dict) -> dict:
    """`run(sampler)` under tracemalloc and the ITIMER_PROF sampler: its result plus the memory figures."""
    import tracemalloc

    sampler = _Sampler()
    tracemalloc.start()
    sampler.base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    signal.signal(signal.SIGPROF, sampler.handler)
    cpu0 = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, job.get("interval", 0.001), job.get("interval", 0.001))
    try:
        out = run(sampler)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    cpu1 = time.process_time()
    peak = tracemalloc.get_traced_memory()[1] - sampler.base
    tracemalloc.stop()
    # memory-time integral of this run: trapezoid over CPU time, from 0 at the start to the end
    ts = [cpu0, *sampler.t[: sampler.i], cpu1]
    ms = [0.0, *sampler.m[: sampler.i], sampler.m[sampler.i - 1] if sampler.i else 0.0]
    integral = sum((ts[k + 1] - ts[k]) * (ms[k + 1] + ms[k]) / 2 for k in range(len(ts) - 1))
    out.update(
        peak_traced=max(0, peak),
        integral_raw=max(0.0, integral),
        mem_sum=float(sum(sampler.m[: sampler.i])),
        recorded=sampler.i,
        memory_cpu=cpu1 - cpu0,
        samples=sampler.samples,
        prof_lines=[[k[0], k[1], v] for k, v in sampler.lines.items()],
        prof_funcs=[[k, v] for k, v in sampler.funcs.items()],
    )
    return out


def _job_generate(job: dict, blobs: list[bytes]) -> _Result:
    _compile_all(job["parts"])
    try:
        ns = _load_module(job["parts"])
        gen = ns.get("generate")
        if not callable(gen):
            raise _Result({"status": "missing_entry_point", "error": "the workload does not define generate"})
        inputs, reprs = [], []
        for n, seed in job["calls"]:
            r = gen(n, seed)
            if not (
                isinstance(r, tuple | list)
                and len(r) == 2
                and isinstance(r[0], tuple | list)
                and isinstance(r[1], dict)
            ):
                raise _Result(
                    {
                        "status": "runtime_error",
                        "error": f"generate({n}, {seed}) must return (args, kwargs), got {type(r).__name__}",
                    }
                )
            inputs.append((tuple(r[0]), dict(r[1])))
            reprs.append(codec.short_repr(inputs[-1]))
        blob = pickle.dumps(inputs, protocol=pickle.HIGHEST_PROTOCOL)
    except _Result:
        raise
    except BaseException as e:
        raise _Result({"status": _exc_status(e), "error": _exc_info(e)}) from None
    return _Result({"status": "ok", "reprs": reprs}, [blob])


def _check_ns(job: dict) -> dict:
    ns: dict = {"__name__": "check", "__builtins__": __builtins__}
    for filename, src in job["check_parts"]:
        if src:
            exec(compile(src, filename, "exec"), ns)
    if not callable(ns.get("check")):
        raise _Result({"status": "runtime_error", "error": "the tests do not define check(candidate)"})
    return ns


def _job_record(job: dict, blobs: list[bytes]) -> _Result:
    """Run check(oracle) through a recorder: the call inputs (pickled) and the oracle's outputs."""
    calls, encs, reprs = [], [], []
    try:
        fn = _resolve(_load_module(job["parts"]), job["entry"])
        ns = _check_ns(job)

        def recorder(*args, **kwargs):
            calls.append(pickle.dumps((args, kwargs), protocol=pickle.HIGHEST_PROTOCOL))
            reprs.append(codec.short_repr((args, kwargs)))
            out = fn(*args, **kwargs)
            encs.append(codec.encode(out))
            return out

        ns["check"](recorder)
    except _Result:
        raise
    except BaseException as e:
        raise _Result({"status": "runtime_error", "error": _exc_info(e)}) from None
    blob = pickle.dumps([pickle.loads(c) for c in calls], protocol=pickle.HIGHEST_PROTOCOL)
    args_digests = [hashlib.sha256(c).hexdigest() for c in calls]
    return _Result({"status": "ok", "outputs": encs, "reprs": reprs, "args_digests": args_digests}, [blob])


def _job_replay(job: dict, blobs: list[bytes]) -> _Result:
    """Run check with a proxy that returns the candidate's (decoded) outputs in order; no candidate code."""
    outputs = job["replay_outputs"]
    digests = job["args_digests"]
    state = {"i": 0}

    class Diverged(BaseException):
        pass

    def proxy(*args, **kwargs):
        i = state["i"]
        if (
            i >= len(outputs)
            or hashlib.sha256(pickle.dumps((args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()
            != digests[i]
        ):
            raise Diverged
        state["i"] = i + 1
        return codec.decode(outputs[i])

    try:
        ns = _check_ns(job)
        ns["check"](proxy)
    except Diverged:
        return _Result({"status": "diverged", "calls": state["i"]})
    except AssertionError as e:
        return _Result({"status": "wrong_answer", "error": _exc_info(e), "calls": state["i"]})
    except BaseException as e:
        return _Result({"status": "runtime_error", "error": _exc_info(e), "calls": state["i"]})
    return _Result({"status": "ok", "calls": state["i"]})


def _job_direct(job: dict, blobs: list[bytes]) -> _Result:
    """Fallback: check(candidate) in the candidate's own process (it could tamper with check).

    Also the timed workload of a task whose only tests are such a check (``memory`` traces it)."""
    _compile_all(job["parts"])
    last = {"input": "", "got": ""}
    try:
        fn = _resolve(_load_module(job["parts"]), job["entry"])
        ns = _check_ns(job)

        def watched(*args, **kwargs):
            last["input"], last["got"] = codec.short_repr((args, kwargs)), ""
            out = fn(*args, **kwargs)
            last["got"] = codec.short_repr(out)
            return out

        if job.get("memory"):
            return _Result(_traced(lambda sampler: (ns["check"](watched), {"status": "ok"})[1], job))
        rss0 = _rss()
        ns["check"](watched)
    except _Result:
        raise
    except AssertionError as e:
        return _Result({"status": "wrong_answer", "error": _exc_info(e), **last})
    except BaseException as e:
        return _Result({"status": _exc_status(e), "error": _exc_info(e), **last})
    return _Result({"status": "ok", "rss_start": rss0})


JOBS = {
    "call": _job_call,
    "generate": _job_generate,
    "record": _job_record,
    "replay": _job_replay,
    "direct": _job_direct,
}


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _set_limits(lim: dict) -> None:
    def setl(which: int, value: int | None) -> None:
        if value is None:
            return
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass

    setl(resource.RLIMIT_CORE, 0)
    cpu = lim.get("cpu_s")
    if cpu:
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 1))
        except (ValueError, OSError):
            pass
    setl(resource.RLIMIT_AS, lim.get("as_bytes"))
    setl(resource.RLIMIT_FSIZE, lim.get("fsize_bytes"))
    setl(resource.RLIMIT_NPROC, lim.get("nproc"))
    setl(resource.RLIMIT_NOFILE, lim.get("nofile"))


def _child(job: dict, blobs: list[bytes], res_w: int, out_w: int, workdir: str) -> None:
    with contextlib.suppress(OSError):  # already a session leader in --oneshot mode
        os.setsid()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.dup2(res_w, 3)
    os.closerange(4, 1 << 16)
    os.chdir(workdir)
    _set_limits(job.get("limits", {}))
    try:
        res = JOBS[job["kind"]](job, blobs)
    except _Result as r:
        res = r
    except BaseException as e:  # our harness failed (or the candidate broke it)
        res = _Result({"status": _exc_status(e), "error": _exc_info(e)})
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    try:
        data = pack_msg(res.header, res.blobs)
    except BaseException as e:
        data = pack_msg(
            {"status": _exc_status(e), "error": "could not serialize the result: " + _exc_info(e)}
        )
    _write_all(3, data)


# ---------------------------------------------------------------- the zygote
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
        def onerror(func, path, exc):
            try:
                os.chmod(os.path.dirname(path), 0o700)
                os.chmod(path, 0o700)
                func(path)
            except OSError:
                pass

        dirs = [self.tmpdir, self.workdir] + (["/dev/shm"] if self.ns else [])
        for d in dirs:
            try:
                os.chmod(d, 0o700)
                names = os.listdir(d)
            except OSError:
                continue
            for name in names:
                p = os.path.join(d, name)
                if os.path.abspath(p) == os.path.abspath(self.workdir):
                    continue
                try:
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p, onerror=onerror)
                    else:
                        os.unlink(p)
                except OSError:
                    pass
        os.makedirs(self.workdir, exist_ok=True)

    # --- one job
    def run(self, job: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
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
                _child(job, blobs, res_w, out_w, self.workdir)
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
                _write_all(wfd, pack_msg({"ok": True, "pid": os.getpid(), "uid": os.getuid()}))
            elif op == "run":
                for key, blob in zip(header.get("new_keys", ()), blobs, strict=False):
                    self._store(key, blob)
                missing = [k for k in header.get("blob_keys", ()) if k not in self.blobs]
                if missing:
                    _write_all(wfd, pack_msg({"missing": missing}))
                    continue
                res, rblobs = self.run(header["job"], [self.blobs[k] for k in header.get("blob_keys", ())])
                _write_all(wfd, pack_msg(res, rblobs))
            else:
                _write_all(wfd, pack_msg({"error": f"unknown op {op!r}"}))

    def _store(self, key: str, blob: bytes) -> None:
        limit = 512 << 20
        while self.blobs and self.blob_bytes + len(blob) > limit:
            old = next(iter(self.blobs))
            self.blob_bytes -= len(self.blobs.pop(old))
        self.blobs[key] = blob
        self.blob_bytes += len(blob)


def _warm_up() -> None:
    """Run the harness once on a built-in module (not candidate code), so the lazy first-use costs
    (hashlib, json, pickle, compile) are paid here once and not in every child."""
    job = {
        "kind": "call",
        "parts": [["<warm-up>", "def f(n):\n    return [n, (n,), {n: {n}}]\n"]],
        "entry": ["f", False, None],
    }
    try:
        JOBS["call"](job, [pickle.dumps([((1,), {})])])
    except _Result as r:
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
        _child(header["job"], blobs, res_w, null, args["--work"])
        os._exit(0)
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _warm_up()
    import gc

    gc.collect()
    gc.freeze()  # children do not dirty (copy) every page of ours when their collector runs
    zyg = Zygote(args["--work"], args["--tmp"], args.get("--ns") == "1")
    zyg.serve(rfd, wfd)


if __name__ == "__main__":
    main(sys.argv[1:])
