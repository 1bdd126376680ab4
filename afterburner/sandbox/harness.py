"""The harness run in each forked child: it executes the candidate's module and calls its entry point.

Stdlib only, imported by the worker inside the sandbox (``import harness``, with ``codec`` and
``protocol`` next to it). One job kind per function in `JOBS`: "call" (the entry point over inputs,
outputs encoded, optionally traced for memory and profile), "generate" (the workload's generate(n, seed)),
"record" (check(oracle) through a recorder), "replay" (check fed recorded answers, no candidate code),
"direct" (check(candidate) in the candidate's process, for tests that cannot be recorded), "pytest"
(a project's own tests with the candidate as its module; `projectmode`, which also runs "call" jobs of
project tasks). `child_main`
reads the job from its pipe, `run_child` sets up the process (session, rlimits, fds, work dir, the
seccomp filter of `seccomp`) and writes two messages to fd 3: first a "ready" message, written before
any candidate code runs (the resident set size at that point, with the kernel's peak counter reset to
it), so its content cannot come from the candidate; then the result.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import resource
import signal
import sys
import time
import traceback
from array import array

import codec
import projectmode
import seccomp
from protocol import pack_msg, read_msg, write_all

TAIL = 2000


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


def _load_module(parts: list, trusted_first: bool = False) -> dict:
    """The parts executed in one fresh module. With `trusted_first`, the task's prelude runs first and
    the "ready" message is written before the first part that is not the prelude (candidate code)."""
    import types

    mod = types.ModuleType("candidate")
    sys.modules["candidate"] = mod
    for filename, src in parts:
        if trusted_first and filename != "<prelude>":
            _ready()
        if src:
            exec(compile(src, filename, "exec"), mod.__dict__)
    if trusted_first:
        _ready()
    return mod.__dict__


_STATE = {"ready": False, "seccomp": False}


def _ready() -> None:
    """Write the "ready" message once, before any candidate code: the RSS now, with the kernel's peak
    RSS counter reset to it (so the parent's rusage peak is the candidate's own), and whether the
    seccomp filter is in place."""
    if _STATE["ready"]:
        return
    _STATE["ready"] = True
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self/clear_refs is writable only so
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        finally:
            libc.prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    write_all(3, pack_msg({"ready": 1, "rss": _rss(), "seccomp": _STATE["seccomp"]}))


class Result(Exception):
    def __init__(self, header: dict, blobs: list[bytes] = ()) -> None:
        self.header, self.blobs = header, list(blobs)


def _compile_all(parts: list) -> None:
    try:
        for filename, src in parts:
            compile(src, filename, "exec")
    except (SyntaxError, ValueError) as e:  # ValueError: null bytes in source
        raise Result({"status": "syntax_error", "error": _exc_info(e)}) from None


def _resolve(ns: dict, entry: list):
    name, instantiate, method = entry
    if name not in ns:
        raise Result({"status": "missing_entry_point", "error": f"the code does not define {name!r}"})
    obj = ns[name]
    if method is None:
        if not callable(obj):
            raise Result({"status": "missing_entry_point", "error": f"{name!r} is not callable"})
        return obj
    if not hasattr(obj, method):
        raise Result({"status": "missing_entry_point", "error": f"{name!r} has no attribute {method!r}"})
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


_CALLS: dict = {}
_CALL_OPS = ("PRECALL", "CALL", "CALL_KW", "CALL_FUNCTION_EX")


def _call_at(f):
    """Source span (line, col, end_line, end_col) of the call the frame is in (or has just returned
    from: the handler runs when a call ends), or None when the sample is not at a call."""
    co = f.f_code
    calls = _CALLS.get(co)
    if calls is None:
        import dis

        calls = _CALLS[co] = {
            i.offset: tuple(i.positions)
            for i in dis.get_instructions(co)
            if i.opname in _CALL_OPS and i.positions and i.positions[0]
        }
    return calls.get(f.f_lasti)


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
        self.calls: dict = {}  # (function, line, call span, innermost library function) -> samples
        self.base = 0

    def handler(self, signum, frame) -> None:
        import tracemalloc

        i = self.i
        if i < self.N:
            self.t[i] = time.process_time()
            self.m[i] = tracemalloc.get_traced_memory()[0] - self.base
            self.i = i + 1
        self.samples += 1
        inner, seen, f, lib = True, set(), frame, ""
        while f is not None:
            co = f.f_code
            if co.co_filename == "<candidate>":
                name = co.co_qualname
                if inner:
                    key = (name, _sample_line(f))
                    self.lines[key] = self.lines.get(key, 0) + 1
                    at = _call_at(f)
                    if at is not None or lib:  # the time went into a call (C or library Python code)
                        ck = (*key, at or (0, 0, 0, 0), lib)
                        self.calls[ck] = self.calls.get(ck, 0) + 1
                    inner = False
                if name not in seen:
                    seen.add(name)
                    self.funcs[name] = self.funcs.get(name, 0) + 1
            elif inner and co.co_filename == __file__:  # a sample taken in the sampler's own work
                lib = ""
            elif inner and not lib:  # the innermost library code (Python) the candidate called
                lib = f"{f.f_globals.get('__name__', '?')}.{co.co_qualname}"
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
        except Result:
            raise
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: the candidate raised them
            if sampler is not None:
                signal.setitimer(signal.ITIMER_PROF, 0)
            raise Result(
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


def _job_call(job: dict, blobs: list[bytes]) -> Result:
    _compile_all(job["parts"])
    if job.get("project"):
        return _project_call(job, blobs)
    prelude = [p for p in job["parts"] if p[0] == "<prelude>"]
    try:
        ns = _load_module(prelude)
        inputs = _inputs(blobs)  # after the prelude: inputs may hold instances of its classes
    except BaseException as e:
        raise Result({"status": _exc_status(e), "error": _exc_info(e), "index": -1}) from None
    _ready()
    try:
        for filename, src in job["parts"]:
            if filename != "<prelude>" and src:
                exec(compile(src, filename, "exec"), ns)
        fn = _resolve(ns, job["entry"])
    except Result:
        raise
    except BaseException as e:
        raise Result({"status": _exc_status(e), "error": _exc_info(e), "index": -1}) from None
    if not job.get("memory"):
        rss0 = _rss()
        out = _call_all(fn, inputs, job, None)
        out["rss_start"] = rss0
        return Result(out)
    return Result(_traced(lambda sampler: _call_all(fn, inputs, job, sampler), job))


def _candidate_source(job: dict) -> str:
    return "".join(src for filename, src in job["parts"] if filename != "<prelude>")


def _project_call(job: dict, blobs: list[bytes]) -> Result:
    """A project task: the candidate imported as the project's own module (`projectmode`), then the
    inputs unpickled (their classes are the candidate's), each call's outcome and arguments after it."""
    _ready()
    try:
        fn = _resolve(projectmode.load(job["project"], _candidate_source(job)), job["entry"])
        inputs, after = projectmode.unwrap(_inputs(blobs))
    except Result:
        raise
    except BaseException as e:
        raise Result({"status": _exc_status(e), "error": _exc_info(e), "index": -1}) from None
    flags = iter(after)  # _call_all calls in order: one flag per input

    def probe(*args, **kwargs):
        return projectmode.outcome(fn, args, kwargs, next(flags, True))

    if not job.get("memory"):
        rss0 = _rss()
        out = _call_all(probe, inputs, job, None)
        out["rss_start"] = rss0
        return Result(out)
    return Result(_traced(lambda sampler: _call_all(probe, inputs, job, sampler), job))


def _job_pytest(job: dict, blobs: list[bytes]) -> Result:
    """The project's tests (pytest, in this process) with the candidate as the project's module."""
    try:
        return Result(projectmode.run_pytest(job["project"], _candidate_source(job), job["pytest_args"]))
    except BaseException as e:
        return Result({"status": _exc_status(e), "error": _exc_info(e)})


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
        prof_calls=[[k[0], k[1], *k[2], k[3], v] for k, v in sampler.calls.items()],
    )
    return out


def _job_generate(job: dict, blobs: list[bytes]) -> Result:
    _compile_all(job["parts"])
    try:
        ns = _load_module(job["parts"])
        gen = ns.get("generate")
        if not callable(gen):
            raise Result({"status": "missing_entry_point", "error": "the workload does not define generate"})
        inputs, reprs = [], []
        for n, seed in job["calls"]:
            r = gen(n, seed)
            if not (
                isinstance(r, tuple | list)
                and len(r) == 2
                and isinstance(r[0], tuple | list)
                and isinstance(r[1], dict)
            ):
                raise Result(
                    {
                        "status": "runtime_error",
                        "error": f"generate({n}, {seed}) must return (args, kwargs), got {type(r).__name__}",
                    }
                )
            inputs.append((tuple(r[0]), dict(r[1])))
            reprs.append(codec.short_repr(inputs[-1]))
        blob = pickle.dumps(inputs, protocol=pickle.HIGHEST_PROTOCOL)
    except Result:
        raise
    except BaseException as e:
        raise Result({"status": _exc_status(e), "error": _exc_info(e)}) from None
    return Result({"status": "ok", "reprs": reprs}, [blob])


def _check_ns(job: dict) -> dict:
    ns: dict = {"__name__": "check", "__builtins__": __builtins__}
    for filename, src in job["check_parts"]:
        if src:
            exec(compile(src, filename, "exec"), ns)
    if not callable(ns.get("check")):
        raise Result({"status": "runtime_error", "error": "the tests do not define check(candidate)"})
    return ns


def _job_record(job: dict, blobs: list[bytes]) -> Result:
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
    except Result:
        raise
    except BaseException as e:
        raise Result({"status": "runtime_error", "error": _exc_info(e)}) from None
    blob = pickle.dumps([pickle.loads(c) for c in calls], protocol=pickle.HIGHEST_PROTOCOL)
    args_digests = [hashlib.sha256(c).hexdigest() for c in calls]
    return Result({"status": "ok", "outputs": encs, "reprs": reprs, "args_digests": args_digests}, [blob])


def _job_replay(job: dict, blobs: list[bytes]) -> Result:
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
        return Result({"status": "diverged", "calls": state["i"]})
    except AssertionError as e:
        return Result({"status": "wrong_answer", "error": _exc_info(e), "calls": state["i"]})
    except BaseException as e:
        return Result({"status": "runtime_error", "error": _exc_info(e), "calls": state["i"]})
    return Result({"status": "ok", "calls": state["i"]})


def _job_direct(job: dict, blobs: list[bytes]) -> Result:
    """Fallback: check(candidate) in the candidate's own process (it could tamper with check).

    Also the timed workload of a task whose only tests are such a check (``memory`` traces it)."""
    _compile_all(job["parts"])
    last = {"input": "", "got": ""}
    try:
        fn = _resolve(_load_module(job["parts"], trusted_first=True), job["entry"])
        ns = _check_ns(job)

        def watched(*args, **kwargs):
            last["input"], last["got"] = codec.short_repr((args, kwargs)), ""
            out = fn(*args, **kwargs)
            last["got"] = codec.short_repr(out)
            return out

        if job.get("memory"):
            return Result(_traced(lambda sampler: (ns["check"](watched), {"status": "ok"})[1], job))
        rss0 = _rss()
        ns["check"](watched)
    except Result:
        raise
    except AssertionError as e:
        return Result({"status": "wrong_answer", "error": _exc_info(e), **last})
    except BaseException as e:
        return Result({"status": _exc_status(e), "error": _exc_info(e), **last})
    return Result({"status": "ok", "rss_start": rss0})


JOBS = {
    "call": _job_call,
    "generate": _job_generate,
    "record": _job_record,
    "replay": _job_replay,
    "direct": _job_direct,
    "pytest": _job_pytest,
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


def child_main(job_fd: int, res_w: int, out_w: int, workdir: str) -> None:
    """The forked child: read the job from its own pipe (nothing of earlier jobs is in this process),
    run it, exit."""
    try:
        job, blobs = read_msg(job_fd)
    except BaseException:
        os._exit(70)
    os.close(job_fd)
    run_child(job, blobs, res_w, out_w, workdir)


def run_child(job: dict, blobs: list[bytes], res_w: int, out_w: int, workdir: str) -> None:
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
    _STATE["seccomp"] = seccomp.install()
    if job.get("kind") not in ("call", "direct"):  # the task's own code only: ready at once
        _ready()
    try:
        res = JOBS[job["kind"]](job, blobs)
    except Result as r:
        res = r
    except BaseException as e:  # our harness failed (or the candidate broke it)
        res = Result({"status": _exc_status(e), "error": _exc_info(e)})
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
    write_all(3, data)
