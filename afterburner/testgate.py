"""A sandbox whose check also runs the project's own tests: a candidate that passes the recorded calls
is accepted only if the discovered pytest tests pass with it too.

`TestGate(sandbox, tests, timeout_s)` stands where the optimizer expects a `Sandbox`: ``check`` first
runs the usual check (the recorded calls, compared as data in the parent), then, for code other than
the task's own, the tests in the sandbox with that code as the project's module (`Sandbox.run_pytest`);
a failing test makes the check a wrong answer that names the test. Results are kept per code, so the
optimizer's later checks of the same code (measure, compare) cost nothing more.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from typing import Any

from afterburner.results import CheckResult
from afterburner.task import Task

__all__ = ["TestGate", "pytest_args"]


def pytest_args(tests: list[str]) -> list[str]:
    """The arguments of a sandboxed run of `tests` (node ids): no cache written into the project."""
    return [*tests, "-p", "no:cacheprovider", "-q", "-x"]


class TestGate:
    """`sandbox` plus the project's tests (`tests`: pytest node ids) as a last check of every candidate."""

    __test__ = False  # not a pytest test class

    def __init__(self, sandbox: Any, tests: list[str], timeout_s: float, _cache: dict | None = None) -> None:
        self.sandbox, self.tests, self.timeout_s = sandbox, list(tests), float(timeout_s)
        self._cache: dict[str, CheckResult] = {} if _cache is None else _cache
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # config, pool, isolation, measure, compare, close, ...
        return getattr(self.sandbox, name)

    def with_limits(self, timeout_s: float | None = None, memory_bytes: int | None = None) -> TestGate:
        from afterburner.agent.limits import with_limits

        return TestGate(
            with_limits(self.sandbox, timeout_s, memory_bytes), self.tests, self.timeout_s, self._cache
        )

    def run_tests(self, task: Task, code: str) -> CheckResult:
        """The discovered tests with `code` as the project's module (kept per code)."""
        key = hashlib.sha256(code.encode()).hexdigest()
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            hit = self.sandbox.run_pytest(task, code, pytest_args(self.tests), self.timeout_s)
            with self._lock:
                self._cache[key] = hit
        return hit

    def check(self, task: Task, code: str | None = None) -> CheckResult:
        res = self.sandbox.check(task, code)
        if not res.passed or not self.tests or code is None or code == task.code:
            return res
        tests = self.run_tests(task, code)
        details = {**res.details, "project_tests": {"ran": len(self.tests), **tests.details}}
        if tests.passed:
            return replace(res, details=details)
        return replace(res, status=tests.status, failure=tests.failure, n_passed=res.n_cases, details=details)

    def check_many(self, task: Task, codes: list[str]) -> list[CheckResult]:
        from concurrent.futures import ThreadPoolExecutor

        size = getattr(getattr(self.sandbox, "pool", None), "size", 2) or 2
        with ThreadPoolExecutor(max_workers=size) as ex:
            return list(ex.map(lambda c: self.check(task, c), codes))
