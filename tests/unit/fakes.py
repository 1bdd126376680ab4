"""A stand-in sandbox for the loop's unit tests: code carries its own verdict in a marker.

``# speed: 4`` makes the code 4x faster than speed 1 (CPU median 1/speed s); ``# wrong`` fails the
tests; ``# mem: 0.5`` halves the peak memory. No code is run. tests/unit/test_graph.py writes the
markers into a string statement (``_ = "# speed: 4"``), since candidates that differ only in their
comments are the same program to the optimizer.

As `Sandbox` does, `measure` and `compare` check the code first unless given its passed check result
(``checked``, ``checked_a``, ``checked_b``), and `compare`'s measurements carry a profile (the real one's
come from its traced runs). `calls` logs every check, `measure` and `compare`.
"""

from __future__ import annotations

import re
import threading

from afterburner.measurement import compare_samples
from afterburner.results import CheckResult, Comparison, Failure, Measurement, Profile, Stats, Status


def _speed(code: str) -> float:
    m = re.search(r"# speed: ([\d.]+)", code)
    return float(m.group(1)) if m else 1.0


def _mem(code: str) -> float:
    m = re.search(r"# mem: ([\d.]+)", code)
    return float(m.group(1)) if m else 1.0


def _samples(code: str, n: int = 9) -> tuple[float, ...]:
    base = 1.0 / _speed(code)
    return tuple(base * (1 + 0.001 * ((i % 3) - 1)) for i in range(n))


class FakeSandbox:
    workers = 2

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self._lock = threading.Lock()

    def _log(self, *call) -> None:
        with self._lock:
            self.calls.append(call)

    def check(self, task, code):
        self._log("check", code)
        if "# wrong" in code:
            return CheckResult(Status.WRONG_ANSWER, Failure(input="[1, 2]", expected="[]", got="[1]"), 3, 1)
        return CheckResult(Status.PASSED, None, 3, 3, details={"code": code})

    def check_many(self, task, codes):
        return [self.check(task, c) for c in codes]

    def _checked(self, task, code, checked) -> CheckResult:
        """`checked` where it is a passed check of `code`, else a new check (as `Sandbox._checked`)."""
        if checked is not None and checked.passed and checked.details.get("code") == code:
            return checked
        return self.check(task, code)

    def checks_of(self, code: str) -> int:
        return sum(1 for call in self.calls if call == ("check", code))

    def measure(self, task, code, repeats=None, profile=False, *, checked=None) -> Measurement:
        chk = self._checked(task, code, checked)
        if not chk.passed:
            return Measurement(chk.status, failure=chk.failure)
        self._log("measure", code, profile)
        return self._measured(code, profile)

    def _measured(self, code: str, profile: bool) -> Measurement:
        prof = None
        if profile:
            lines = code.splitlines()
            hot = next((i for i, ln in enumerate(lines, 1) if " in seen" in ln), 1)
            prof = Profile((), ({"line": hot, "share": 0.8, "code": lines[hot - 1], "function": "f"},), 100)
        s = _samples(code)
        return Measurement(
            Status.PASSED,
            cpu_time_s=Stats(s[0], min(s), max(s), 0.0, 0.0, len(s), s),
            peak_memory_bytes=int(1_000_000 * _mem(code)),
            integral=1000.0 * _mem(code) / _speed(code),
            profile=prof,
        )

    def compare(
        self, task, code_a, code_b, repeats=None, min_gain=0.05, *, checked_a=None, checked_b=None
    ) -> Comparison:
        ca, cb = self._checked(task, code_a, checked_a), self._checked(task, code_b, checked_b)
        self._log("compare", code_a, code_b)
        if not (ca.passed and cb.passed):
            ma, mb = (Measurement(c.status, failure=c.failure) for c in (ca, cb))
            return compare_samples(ma, mb, min_gain)
        return compare_samples(self._measured(code_a, True), self._measured(code_b, True), min_gain)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None
