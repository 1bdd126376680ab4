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


def _result(tmp_path, best="fast\n", status="improved"):
    from types import SimpleNamespace

    run_dir = tmp_path / "runs" / "r1"
    return SimpleNamespace(
        best_code=best, original_code="slow\n", best_path=str(run_dir / "best.py"), run_dir=str(run_dir),
        run_id="r1", status=status,
    )  # fmt: skip


def test_without_out_it_says_where_the_best_code_is_and_how_to_get_it(tmp_path, monkeypatch):
    from afterburner.cli.optimize_cmd import where_the_code_went

    monkeypatch.chdir(tmp_path)
    lines = where_the_code_went(_result(tmp_path), None, None, tmp_path / "slow.py")
    assert lines[:3] == [
        "the best code (the whole module) is saved in the run's folder:",
        "  runs/r1/best.py",  # relative to the working directory, on a line of its own
        "next time, write it where you want with --out FILE, or over the source with --in-place "
        "(replaces slow.py, keeps slow.py.orig)",
    ]
    assert lines[-2:] == ["run r1 (its trajectory, checkpoints and best.py):", "  runs/r1"]


def test_with_out_or_unchanged_it_says_what_was_written(tmp_path, monkeypatch):
    from afterburner.cli.optimize_cmd import where_the_code_went

    monkeypatch.chdir(tmp_path)
    written = {"path": str(tmp_path / "fast.py")}
    assert where_the_code_went(_result(tmp_path), written, None)[0] == "wrote the best code to fast.py"
    unchanged = where_the_code_went(_result(tmp_path, best="slow\n"), None, None)
    assert not any("the best code" in ln for ln in unchanged)  # nothing to get: the original stands
    interrupted = where_the_code_went(_result(tmp_path, status="interrupted"), None, None)
    assert "continue it with --resume r1" in interrupted[-2]
