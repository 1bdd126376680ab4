"""Trajectory JSONL: durable versioned records, broken lines skipped and counted."""

from __future__ import annotations

import json

from afterburner.trajectory import FORMAT, TrajectoryWriter, read_trajectory


def test_records_are_versioned_json_lines_readable_while_open(tmp_path):
    path = tmp_path / "run" / "trajectory.jsonl"
    w = TrajectoryWriter(path)
    w.write("run", run_id="r1", task={"name": "t"})
    w.write("step", round=1, speedup=float("nan"), ci=(1.0, float("inf")))
    # durable before close: another reader sees both lines now
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    step = json.loads(lines[1])  # strict JSON: no NaN/Infinity tokens
    assert step["format"] == FORMAT and step["speedup"] is None and step["ci"] == [1.0, None]
    w.close()


def test_broken_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "t.jsonl"
    with TrajectoryWriter(path) as w:
        w.write("run", run_id="r")
        w.write("step", round=1, accepted=True)
    with open(path, "a") as f:
        f.write('{"format": "afterburner.trajectory/1", "type": "st')  # a crash mid-write
        f.write("\n[1, 2]\n")
        f.write('{"format": "other/9", "type": "step"}\n')
    with TrajectoryWriter(path) as w:  # a resumed run appends
        w.write("end", status="improved")
    t = read_trajectory(path)
    assert t.broken_lines == 3
    assert [r["type"] for r in t.records] == ["run", "step", "end"]
    assert t.run["run_id"] == "r" and t.steps[0]["accepted"] and t.end["status"] == "improved"


def test_version_1_files_are_still_read_and_their_steps_are_the_models(tmp_path):
    from afterburner.trajectory import FORMATS, step_origin

    path = tmp_path / "old.jsonl"
    path.write_text(
        '{"format": "afterburner.trajectory/1", "type": "run", "run_id": "r"}\n'
        '{"format": "afterburner.trajectory/1", "type": "step", "round": 1}\n'
    )
    with TrajectoryWriter(path) as w:  # today's writer: version 2, steps name their origin
        w.write("step", round=2, origin="rewrite:functools_cache")
    t = read_trajectory(path)
    assert t.broken_lines == 0 and FORMAT == FORMATS[-1] == "afterburner.trajectory/2"
    assert [step_origin(s) for s in t.steps] == ["model", "rewrite:functools_cache"]
