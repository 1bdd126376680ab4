"""The optimize command's own parts: choosing the task, guarding the user's files."""

from __future__ import annotations

import os

import pytest

from afterburner.cli import build_parser
from afterburner.cli.optimize_cmd import _check_outputs, _load_task, write_in_place
from afterburner.errors import ConfigError, TaskError


def parse(*argv):
    return build_parser().parse_args(["optimize", *argv])


def test_task_file_or_target_but_not_both(tmp_path):
    task_file = tmp_path / "t.yaml"
    task_file.write_text(
        "name: t\nentry_point: f\ncode: |\n  def f(x):\n      return x\n"
        "tests: |\n  def check(c):\n      assert c(1) == 1\n"
    )
    assert _load_task(parse("--task", str(task_file))).entry_point == "f"
    with pytest.raises(ConfigError, match="not both"):
        _load_task(parse("x.py::f", "--task", str(task_file)))
    with pytest.raises(TaskError, match="--tests is required"):
        _load_task(parse("x.py::f"))
    with pytest.raises(TaskError, match="nothing to optimize"):
        _load_task(parse())
    assert _load_task(parse("--resume", "some-run")) is None


def test_out_refuses_to_overwrite_without_force(tmp_path):
    target = tmp_path / "fast.py"
    target.write_text("mine\n")
    with pytest.raises(ConfigError, match="--force"):
        _check_outputs(parse("--out", str(target)), None)
    _check_outputs(parse("--out", str(target), "--force"), None)


def test_in_place_keeps_a_backup_and_never_overwrites_one(tmp_path):
    src = tmp_path / "slow.py"
    src.write_text("v1\n")
    os.chmod(src, 0o640)
    first = write_in_place(src, "v2\n")
    assert src.read_text() == "v2\n" and first.name == "slow.py.orig" and first.read_text() == "v1\n"
    assert (src.stat().st_mode & 0o777) == 0o640
    second = write_in_place(src, "v3\n")
    assert second != first and second.read_text() == "v2\n" and first.read_text() == "v1\n"
    assert not list(tmp_path.glob(".*.tmp"))
