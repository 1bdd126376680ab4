"""Turning what a run reported into statuses and failures, trusting none of the candidate's fields.

A candidate can write to its own result pipe, so everything here assumes the message may be forged:
only failure statuses are taken from a run ("passed" is decided by the parent), text fields are coerced
to text, numbers to numbers, and traced figures are validated before use.
"""

from __future__ import annotations

from typing import Any

from afterburner.results import Failure, Status

# what a run may report besides "ok": never "passed" (only the parent decides that; a candidate
# that forges its result message cannot pass), never "format_error" (the LLM layer's)
FAILURES = {
    s.value: s
    for s in (
        Status.WRONG_ANSWER,
        Status.RUNTIME_ERROR,
        Status.TIMEOUT,
        Status.MEMORY_EXCEEDED,
        Status.OUTPUT_EXCEEDED,
        Status.SYNTAX_ERROR,
        Status.MISSING_ENTRY_POINT,
        Status.SANDBOX_ERROR,
    )
}


def failed_status(res: dict) -> Status:
    """The status of a run that did not report "ok" (anything unexpected is a runtime error)."""
    st = FAILURES.get(res.get("status"))
    if st is None:
        res["error"] = f"the run reported an unknown status {str(res.get('status'))[:40]!r}"
        return Status.RUNTIME_ERROR
    return st


def short(text: str, limit: int = 1500) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def one_line(error: str) -> str:
    """'ZeroDivisionError: division by zero (<workload>, line 2)' from a traceback."""
    lines = [ln.strip() for ln in error.strip().splitlines() if ln.strip()]
    if not lines:
        return "no error message"
    where = next((ln for ln in reversed(lines) if ln.startswith('File "')), "")
    if where:
        parts = where.split(",")
        where = f" ({parts[0][5:].strip(chr(34))}, {parts[1].strip()})" if len(parts) > 1 else ""
    return lines[-1][:300] + where


def failure_of(header: dict, reprs: list[str] | None = None, **kw: str) -> Failure:
    idx = header.get("index")
    inp = reprs[idx] if reprs and isinstance(idx, int) and 0 <= idx < len(reprs) else header.get("input", "")
    kw.setdefault("got", header.get("got", ""))
    err = header.get("error", "")
    tail = header.get("stdout_tail", "")
    if tail and header.get("status") == "output_exceeded":
        err = (
            err + "\n" if err else ""
        ) + f"output ({header.get('stdout_bytes')} bytes), ends with: {tail[-200:]}"
    return Failure(
        input=kw.get("input", inp),
        expected=kw.get("expected", ""),
        got=kw.get("got", ""),
        error=short(kw.get("error", err)),
    )


def sanitize(res: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
    """A run's result with the fields a candidate could forge (it can write to its result pipe) made
    harmless: text fields are text, numbers are numbers; the zygote's own fields (cpu, wall, maxrss,
    stdout) are set by the zygote after the child's and are trusted."""
    for k in ("error", "input", "got"):
        if k in res and not isinstance(res[k], str):
            res[k] = str(res[k])[:2000]
    for k in ("index", "rss_start", "calls"):
        if k in res and (type(res[k]) is not int):
            res[k] = 0
    if "digest" in res and not isinstance(res["digest"], str):
        res["digest"] = ""
    if "status" in res and not isinstance(res["status"], str):
        res["status"] = "?"
    return res, blobs


def clean_memory(r: dict) -> dict | None:
    """A traced run's figures, validated (None if a forged result left them malformed)."""
    try:
        out = {
            k: float(r[k])
            for k in ("samples", "memory_cpu", "mem_sum", "recorded", "peak_traced", "integral_raw")
        }
        out["prof_lines"] = [[str(fn), int(ln), int(c)] for fn, ln, c in r["prof_lines"]]
        out["prof_funcs"] = [[str(fn), int(c)] for fn, c in r["prof_funcs"]]
        out["prof_calls"] = [
            [str(fn), int(ln), int(a), int(b), int(c), int(d), str(lib)[:200], int(n)]
            for fn, ln, a, b, c, d, lib, n in r.get("prof_calls", [])
        ]
    except (KeyError, TypeError, ValueError):
        return None
    out["samples"], out["recorded"], out["peak_traced"] = (
        int(out["samples"]),
        int(out["recorded"]),
        int(out["peak_traced"]),
    )
    return out


def has_unsupported(enc: Any) -> bool:
    if isinstance(enc, list):
        return any(has_unsupported(x) for x in enc)
    if isinstance(enc, dict):
        if "__unsupported__" in enc:
            return True
        return any(has_unsupported(x) for x in enc.values())
    return False
