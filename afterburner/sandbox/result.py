"""What running a candidate produced: frozen data with a status, never an exception."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

__all__ = ["CheckResult", "Failure", "Status"]


class Status(str, Enum):
    PASSED = "passed"
    WRONG_ANSWER = "wrong_answer"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_EXCEEDED = "memory_exceeded"
    OUTPUT_EXCEEDED = "output_exceeded"  # wrote more than the stdout/stderr cap
    SYNTAX_ERROR = "syntax_error"
    MISSING_ENTRY_POINT = "missing_entry_point"
    FORMAT_ERROR = "format_error"  # no usable code in a completion (set by the LLM layer, not the sandbox)
    SANDBOX_ERROR = "sandbox_error"  # the candidate broke the sandbox worker (killed it, ...)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Failure:
    """The first failing case, each field truncated for display and prompts."""

    input: str = ""
    expected: str = ""
    got: str = ""
    error: str = ""  # exception line / tail of the traceback / what the sandbox saw

    def short(self, limit: int = 600) -> str:
        parts = []
        if self.input:
            parts.append(f"input: {self.input}")
        if self.expected:
            parts.append(f"expected: {self.expected}")
        if self.got:
            parts.append(f"got: {self.got}")
        if self.error:
            parts.append(f"error: {self.error}")
        text = "\n".join(parts)
        return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class CheckResult:
    """Correctness of one candidate on a task's tests (and, differentially, its workload)."""

    status: Status
    failure: Failure | None = None
    n_cases: int = 0
    n_passed: int = 0
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    stdout_tail: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def to_dict(self) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        return d
