"""What running candidate code produced: frozen data with a status, never an exception.

The result types of the whole project, below both the sandbox that makes them and the agent, bench and
training that read them: `Status`, `Failure`, `CheckResult`, `Stats`, `Profile`, `Measurement`,
`Comparison`. Each has ``to_dict()`` (plain JSON, as checkpoints and trajectories keep it) and
``from_dict()``. The statistics that make them are in `afterburner.measurement`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

__all__ = ["CheckResult", "Comparison", "Failure", "Measurement", "Profile", "Stats", "Status"]


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

    @classmethod
    def from_dict(cls, d: dict | None) -> Failure | None:
        return cls(**d) if d else None


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

    @classmethod
    def from_dict(cls, d: dict) -> CheckResult:
        return cls(**{**d, "status": Status(d["status"]), "failure": Failure.from_dict(d.get("failure"))})


@dataclass(frozen=True)
class Stats:
    """Summary of repeated samples (seconds unless said otherwise)."""

    median: float
    min: float
    max: float
    iqr: float
    mad: float
    n: int
    samples: tuple[float, ...] = ()

    @property
    def cv(self) -> float:
        """Robust coefficient of variation: 1.4826 * MAD / median."""
        return 1.4826 * self.mad / self.median if self.median else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["samples"] = list(self.samples)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> Stats | None:
        if not d:
            return None
        return cls(**{**d, "samples": tuple(d.get("samples") or ())})


@dataclass(frozen=True)
class Profile:
    """Where the time goes: top functions and lines of the candidate's own code, by share of samples,
    and the calls on those lines the samples fell in (`calls`: which library routine, which conversion).

    A sample is charged to the call the candidate's innermost frame is in, or has just returned from
    (CPython runs the sampler at call ends and loop jumps): so time in C functions (``np.array``) is
    seen, but time in an operator (``a * b``) just before a call may be charged to that call.
    """

    functions: tuple[dict, ...] = ()  # {"name", "line", "self_share", "total_share"}
    lines: tuple[dict, ...] = ()  # {"line", "share", "code", "function"}
    samples: int = 0
    calls: tuple[dict, ...] = ()  # {"line", "function", "callee", "inner", "share"}

    def text(self, top: int = 5) -> str:
        """Short text for a prompt: the hot lines with their measured share of the time."""
        if not self.samples:
            return "(no profile samples)"
        out = [f"Hot lines (share of {self.samples} CPU-time samples):"]
        out.extend(
            f"  line {ln['line']:>4} {100 * ln['share']:5.1f}%  {ln.get('code', '').strip()}"
            for ln in self.lines[:top]
        )
        calls = [c for c in self.calls if c["share"] >= 0.02][:top]
        if calls:
            out.append("Time inside calls (the callee, where it was spent, share):")
            out.extend(
                f"  line {c['line']:>4} {100 * c['share']:5.1f}%  {c['callee'] or c['inner']}"
                + (f" (in {c['inner']})" if c["inner"] and c["callee"] else "")
                for c in calls
            )
        if self.functions:
            out.append("Functions (total share):")
            out.extend(f"  {fn['name']} {100 * fn['total_share']:5.1f}%" for fn in self.functions[:top])
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {
            "functions": list(self.functions),
            "lines": list(self.lines),
            "samples": self.samples,
            "calls": list(self.calls),
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> Profile | None:
        if not d:
            return None
        return cls(
            tuple(d.get("functions", ())),
            tuple(d.get("lines", ())),
            int(d.get("samples", 0)),
            tuple(d.get("calls", ())),
        )


@dataclass(frozen=True)
class Measurement:
    """A candidate's measured cost over the task's workload."""

    status: Status
    cpu_time_s: Stats | None = None  # user+sys CPU of the child over the workload, repeated
    wall_time_s: Stats | None = None
    peak_memory_bytes: int | None = None  # Python-level peak (tracemalloc) over the workload
    peak_rss_bytes: int | None = None  # peak resident set size growth of the child over its start
    integral: float | None = None  # memory-time integral, byte-seconds (sampled, trapezoid rule)
    profile: Profile | None = None
    instructions: int | None = None  # callgrind instruction count (optional, deterministic)
    failure: Failure | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is Status.PASSED

    def to_dict(self) -> dict:
        return {
            "status": self.status.value,
            "cpu_time_s": self.cpu_time_s.to_dict() if self.cpu_time_s else None,
            "wall_time_s": self.wall_time_s.to_dict() if self.wall_time_s else None,
            "peak_memory_bytes": self.peak_memory_bytes,
            "peak_rss_bytes": self.peak_rss_bytes,
            "integral": self.integral,
            "profile": self.profile.to_dict() if self.profile else None,
            "instructions": self.instructions,
            "failure": asdict(self.failure) if self.failure else None,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> Measurement | None:
        """The `to_dict()` form back (as kept in the checkpointed state and the trajectory)."""
        if not d:
            return None
        return cls(
            status=Status(d["status"]),
            cpu_time_s=Stats.from_dict(d.get("cpu_time_s")),
            wall_time_s=Stats.from_dict(d.get("wall_time_s")),
            peak_memory_bytes=d.get("peak_memory_bytes"),
            peak_rss_bytes=d.get("peak_rss_bytes"),
            integral=d.get("integral"),
            profile=Profile.from_dict(d.get("profile")),
            instructions=d.get("instructions"),
            failure=Failure.from_dict(d.get("failure")),
            details=d.get("details") or {},
        )


@dataclass(frozen=True)
class Comparison:
    """Baseline A against candidate B, measured interleaved in one run."""

    speedup: float  # median CPU(A) / median CPU(B); > 1 means B is faster
    speedup_ci: tuple[float, float]
    improved: bool  # lower bound of the interval above 1 + min_gain
    min_gain: float
    a: Measurement
    b: Measurement
    memory_ratio: float | None = None  # peak memory B / A (< 1 means B uses less)

    @property
    def status_a(self) -> Status:
        return self.a.status

    @property
    def status_b(self) -> Status:
        return self.b.status

    def to_dict(self) -> dict:
        return {
            "speedup": self.speedup,
            "speedup_ci": list(self.speedup_ci),
            "improved": self.improved,
            "min_gain": self.min_gain,
            "memory_ratio": self.memory_ratio,
            "status_a": self.status_a.value,
            "status_b": self.status_b.value,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Comparison:
        return cls(
            speedup=d["speedup"],
            speedup_ci=tuple(d["speedup_ci"]),
            improved=d["improved"],
            min_gain=d["min_gain"],
            a=Measurement.from_dict(d["a"]),
            b=Measurement.from_dict(d["b"]),
            memory_ratio=d.get("memory_ratio"),
        )
