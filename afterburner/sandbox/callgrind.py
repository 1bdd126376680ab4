"""Deterministic cost: instructions executed by one run of the workload, counted by callgrind.

Off by default (``measure(..., instructions=True)``): valgrind makes Python 50-100x slower. The run is
a fresh process (not a warm worker) inside the same sandbox, with PYTHONHASHSEED=0. It is done twice,
with the workload and with no inputs at all; the difference is the count of the workload's calls and
of serializing their outputs, without interpreter start-up and module execution. The count is read
from callgrind's output file, which the sandbox user could in principle overwrite.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import warnings
from typing import TYPE_CHECKING

from afterburner.sandbox.pool import WORKER, bwrap_prefix, is_root, isolation_mode, make_hostdir, sandbox_env
from afterburner.sandbox.protocol import pack_msg, unpack_msg

if TYPE_CHECKING:
    from afterburner.sandbox.jobs import JobRunner
    from afterburner.task import Task

_TOTAL = re.compile(rb"^(?:summary|totals):\s*(\d+)", re.M)


def count_instructions(runner: JobRunner, task: Task, code: str, groups: list) -> int | None:
    """Ir of the workload (with inputs) minus Ir of the same run without inputs; None if unavailable."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        warnings.warn(
            "instruction counts need valgrind (not found): install valgrind", RuntimeWarning, stacklevel=3
        )
        return None
    if isolation_mode(runner.config) == "docker":  # a run here would leave the container for the bare host
        warnings.warn(
            "instruction counts are not available with the docker sandbox (no valgrind in the image): "
            "use --sandbox bwrap for --instructions",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    total = _one_run(runner, task, code, [g.blob for g in groups], valgrind)
    base = _one_run(runner, task, code, [pickle.dumps([])], valgrind)
    if total is None or base is None:
        return None
    return max(0, total - base)


def _one_run(runner: JobRunner, task: Task, code: str, blobs: list[bytes], valgrind: str) -> int | None:
    cfg = runner.config
    wall = min(1800.0, max(120.0, 100 * cfg.timeout_s))
    job = runner.job("call", task, code, outputs=False)
    job["wall_s"] = wall
    job["limits"] = dict(job["limits"], cpu_s=int(wall) + 1, as_bytes=None)
    hostdir = make_hostdir(cfg)
    ids = ["--uid", str(cfg.sandbox_uid), "--gid", str(cfg.sandbox_uid)] if is_root() else []
    if isolation_mode(cfg) == "bwrap":
        out_file, work, tmp = "/tmp/callgrind.out", "/tmp/work", "/tmp"
        prefix = bwrap_prefix(hostdir)
    else:
        out_file, work, tmp = os.path.join(hostdir, "callgrind.out"), os.path.join(hostdir, "work"), hostdir
        prefix = []
    cmd = [
        *prefix,
        valgrind,
        "--tool=callgrind",
        f"--callgrind-out-file={out_file}",
        "--quiet",
        sys.executable,
        "-s",
        "-P",
        str(WORKER),
        *ids,
        "--work",
        work,
        "--tmp",
        tmp,
        "--oneshot",
        "1",
    ]
    env = sandbox_env(work)
    env["PYTHONHASHSEED"] = "0"
    # valgrind starts before the worker drops its uid: its own temp files go to a dir it owns
    os.makedirs(os.path.join(hostdir, "vg"), mode=0o700)
    # callgrind opens its output at start (as root without capabilities) and writes it at exit (as the
    # sandbox user): a file both may write
    out_host = os.path.join(hostdir, "callgrind.out")
    with open(out_host, "wb"):
        pass
    os.chmod(out_host, 0o666)
    if is_root():
        os.chown(out_host, cfg.sandbox_uid, cfg.sandbox_uid)
    env["TMPDIR"] = os.path.join(tmp, "vg")
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(pack_msg({"job": job}, blobs), timeout=wall + 30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            header, _, end = unpack_msg(out)
            if header.get("ready") == 1:  # the harness's first message, before the candidate's code
                header, _, _ = unpack_msg(out, end)
        except ValueError:
            return None
        if header.get("status") != "ok":
            return None
        try:
            with open(os.path.join(hostdir, "callgrind.out"), "rb") as f:
                m = _TOTAL.search(f.read())
        except OSError:
            return None
        return int(m.group(1)) if m else None
    finally:
        shutil.rmtree(hostdir, ignore_errors=True)
