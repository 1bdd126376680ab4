"""A stand-in sandbox for the loop's unit tests: code carries its own verdict in a marker.

``# speed: 4`` makes the code 4x faster than speed 1 (CPU median 1/speed s); ``# wrong`` fails the
tests; ``# mem: 0.5`` halves the peak memory. No code is run. tests/unit/test_graph.py writes the
markers into a string statement (``_ = "# speed: 4"``), since candidates that differ only in their
comments are the same program to the optimizer.
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
        return CheckResult(Status.PASSED, None, 3, 3)

    def check_many(self, task, codes):
        return [self.check(task, c) for c in codes]

    def measure(self, task, code, repeats=None, profile=False) -> Measurement:
        self._log("measure", code, profile)
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

    def compare(self, task, code_a, code_b, repeats=None, min_gain=0.05) -> Comparison:
        self._log("compare", code_a, code_b)
        return compare_samples(self.measure(task, code_a), self.measure(task, code_b), min_gain)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None
