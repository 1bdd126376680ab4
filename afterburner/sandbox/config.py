"""Settings of the sandbox: limits per run, isolation, and the measurement budget."""

from __future__ import annotations

from dataclasses import dataclass

from afterburner.errors import ConfigError

ISOLATIONS = ("auto", "bwrap", "none", "docker")  # docker: a warm container per worker (docker_backend)


@dataclass(frozen=True)
class SandboxConfig:
    """Limits apply to every child that runs candidate code (one per run, forked from a warm worker)."""

    timeout_s: float = (
        10.0  # wall-clock limit of one run (all test or workload inputs); kills the whole group
    )
    cpu_s: int | None = None  # CPU-seconds limit of one run (RLIMIT_CPU); default: ceil(timeout_s) + 1
    memory_bytes: int = 4 << 30  # address-space limit (RLIMIT_AS) of the child
    file_size_bytes: int = 64 << 20  # largest file the child may write (RLIMIT_FSIZE)
    max_processes: int = 64  # RLIMIT_NPROC of the child (counts the sandbox user's processes)
    max_open_files: int = 256  # RLIMIT_NOFILE
    output_cap_bytes: int = 1 << 20  # stdout+stderr beyond this -> output_exceeded
    isolation: str = "auto"  # "auto" (bwrap if it works, else limits only), "bwrap", "none", "docker"
    readonly_paths: tuple[str, ...] = ()  # host paths a task needs, bound read-only (e.g. a project root)
    sandbox_uid: int = 65534  # when started as root: the unprivileged user candidate code runs as
    pin_cpus: bool = True  # pin each warm worker to its own core
    min_repeats: int = 5  # adaptive repeats: at least this many timed runs ...
    max_repeats: int = 30  # ... at most this many ...
    time_budget_s: float = 1.5  # ... stopping once the timed runs add up to this much CPU time
    seed: int = 0  # the seed given to the workload's generate(n, seed)
    profile_interval_s: float = 0.001  # CPU time between profile/memory samples (ITIMER_PROF)

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATIONS:
            raise ConfigError(f"isolation must be one of {', '.join(ISOLATIONS)}, not {self.isolation!r}")
        if self.timeout_s <= 0 or self.memory_bytes <= 0:
            raise ConfigError("timeout_s and memory_bytes must be positive")
        if not 1 <= self.min_repeats <= self.max_repeats:
            raise ConfigError("need 1 <= min_repeats <= max_repeats")

    @property
    def cpu_limit_s(self) -> int:
        return self.cpu_s if self.cpu_s is not None else int(self.timeout_s + 0.999) + 1

    def limits(self) -> dict:
        return {
            "cpu_s": self.cpu_limit_s,
            "as_bytes": self.memory_bytes,
            "fsize_bytes": self.file_size_bytes,
            "nproc": self.max_processes,
            "nofile": self.max_open_files,
        }
