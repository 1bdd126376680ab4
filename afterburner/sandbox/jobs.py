"""Jobs for the warm workers: how one is written (`JobRunner.job`) and run (`JobRunner.run`).

The one place between the sandbox's logic and the worker pool: task preparation (`prepare`), timed runs
(`timing`), instruction counts (`callgrind`) and `Sandbox` itself build their jobs here and run them
here, so none of them needs the `Sandbox` object.
"""

from __future__ import annotations

from typing import Any

from afterburner.sandbox.config import SandboxConfig
from afterburner.sandbox.pool import SandboxBackend, WorkerDied, WorkerPool
from afterburner.sandbox.prepare import Group, Prepared, check_parts, code_parts, entry_of, times_direct
from afterburner.sandbox.verdict import sanitize
from afterburner.task import Task


class JobRunner:
    """Writes jobs with the sandbox's limits and runs them on the pool (or on a worker already held)."""

    def __init__(self, config: SandboxConfig, pool: WorkerPool) -> None:
        self.config, self.pool = config, pool

    @property
    def isolation(self) -> str:
        return self.pool.mode

    def job(self, kind: str, task: Task, code: str | None, **extra: Any) -> dict:
        job = {
            "kind": kind,
            "entry": entry_of(task),
            "wall_s": self.config.timeout_s,
            "limits": self.config.limits(),
            "output_cap": self.config.output_cap_bytes,
        }
        if code is not None:
            job["parts"] = code_parts(task, code)
        if task.metadata.get("project"):  # a function of a real project: run as its module (projectmode)
            job["project"] = task.metadata["project"]
        job.update(extra)
        return job

    def run(
        self, job: dict, groups: list[Group], worker: SandboxBackend | None = None
    ) -> tuple[dict, list[bytes]]:
        """The job's result header and blobs, sanitized; a worker that died is a sandbox error."""
        blobs = [(g.key, g.blob) for g in groups]
        try:
            if worker is not None:
                return sanitize(*worker.run(job, blobs))
            with self.pool.acquire() as w:
                return sanitize(*w.run(job, blobs))
        except WorkerDied as e:
            return {
                "status": "sandbox_error",
                "error": f"the candidate killed the sandbox worker or it stopped answering ({e}); "
                "the worker was replaced",
            }, []

    def timing_groups(self, prep: Prepared) -> list[Group]:
        """The inputs a timed run calls the entry point on: the workload, or the tests' own calls."""
        return [prep.cases, prep.recorded] if prep.workload_is_tests else [prep.workload]

    def timing_job(self, task: Task, prep: Prepared, code: str, **extra: Any) -> dict:
        """The job of a timed (or traced) run: the entry point over the workload's inputs; for a task
        whose only tests are a check(candidate) that could not be recorded, that check run directly."""
        if times_direct(prep):
            return self.job("direct", task, code, check_parts=check_parts(task), **extra)
        return self.job("call", task, code, outputs=False, **extra)
