"""Sandbox dirs a killed run left in /tmp are removed on the next start, never those of a live run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from afterburner.sandbox import fstree
from afterburner.sandbox.pool import PREFIX, _start_time, sweep_stale_dirs

pytestmark = pytest.mark.integration


def _deep(path: str, depth: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.close(fd)


def test_dirs_of_dead_owners_are_swept_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    start = _start_time(dead.pid)
    os.kill(dead.pid, signal.SIGKILL)  # kill -9: no clean-up of its own
    dead.wait()
    stale = tmp_path / f"{PREFIX}{dead.pid}-{start}-abc"
    stale.mkdir()
    _deep(str(stale), 1500)  # as deep as a candidate made it
    live = tmp_path / f"{PREFIX}{os.getpid()}-{_start_time(os.getpid())}-def"
    live.mkdir()
    other = tmp_path / "not-ours"
    other.mkdir()
    assert sweep_stale_dirs(str(tmp_path)) == [str(stale)]
    assert not stale.exists() and live.exists() and other.exists()


def test_removal_survives_any_depth_and_permissions(tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    _deep(str(root), 3000)
    os.chmod(root / "d", 0)  # the candidate took its own permissions away
    assert fstree.remove(str(root)) and not root.exists()
