"""Temp files of an interrupted ``--in-place`` (or ``--out``) write are removed the next time optimize starts."""

from __future__ import annotations

import os
import subprocess
import time

from afterburner.cli import main
from afterburner.project import atomic_write


def test_the_next_start_removes_what_an_interrupted_write_left(tmp_path, capsys):
    src = tmp_path / "x.py"
    src.write_text("def f(n):\n    return n\n")
    (tmp_path / "t.py").write_text("def check(candidate):\n    assert candidate(1) == 1\n")
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = tmp_path / f".x.py.{gone.pid}.abc123.tmp"  # its writer was killed mid-write
    legacy = tmp_path / ".x.py.k3j4h5.tmp"  # an older version's name, without the pid
    live = tmp_path / f".x.py.{os.getpid()}.zzz.tmp"  # a write still going on
    other = tmp_path / f".y.py.{gone.pid}.abc.tmp"  # another file's
    for p in (dead, legacy, live, other):
        p.write_text("half a fi")
    old = time.time() - 3600
    os.utime(legacy, (old, old))
    # fails after the start (--replies needs --backend scripted), which is enough
    code = main(
        ["optimize", f"{src}::f", "--tests", str(tmp_path / "t.py"), "--in-place", "--replies", "r.json"]
    )
    assert code == 2
    assert "--replies" in capsys.readouterr().err
    assert not dead.exists() and not legacy.exists()
    assert live.exists() and other.exists()
    assert src.read_text() == "def f(n):\n    return n\n"


def test_an_atomic_write_leaves_no_temp_file(tmp_path):
    target = tmp_path / "x.py"
    atomic_write(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.py"]
