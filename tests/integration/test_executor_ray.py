"""`--executor ray` on a local Ray cluster this file starts (127.0.0.1, 2 CPUs): `bench` gives the records
the local executor gives, with the scripted backend replaying known code, and a killed node process is
restarted and its unit retried with the same result."""

from __future__ import annotations

import json
import os
import pickle
import signal
import threading
import time
from pathlib import Path

import pytest

# a cluster that serves this machine only: Ray binds it to 127.0.0.1 (set before ray is imported)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'afterburner[ray]')")

from afterburner.cli import main  # noqa: E402
from tests.integration.test_bench_replay import DEDUPE, PAIRS  # noqa: E402

pytestmark = pytest.mark.integration

# the fields of a record that depend neither on timing noise nor on where the run was written (not
# tokens_used: the prompts of later rounds quote the measured times)
STABLE = ("task", "strategy", "model", "n_rounds", "stop_reason", "optimizer_status", "llm_calls", "error",
          "final_code", "outcomes")  # fmt: skip


@pytest.fixture(scope="module")
def cluster():
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("suite")
    (d / "count_pairs.yaml").write_text(PAIRS)
    (d / "dedupe.yaml").write_text(DEDUPE)
    return d


def bench(suite: Path, out: Path, *extra: str) -> int:
    return main(["bench", str(suite), "--backend", "scripted", "--model", "replay:reference",
                 "--strategy", "default", "--strategy", "afterburner", "--rounds", "1", "--candidates", "2",
                 "--repeats", "3", "--no-curves", "--json", "--no-progress", "--results-dir", str(out), *extra])  # fmt: skip


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def stable(rec: dict) -> dict:
    final = rec["final"]
    return {
        **{k: rec[k] for k in STABLE},
        "final": (final["correct"], final["status"], final["identical_to_start"], final["speedup"] is None),
        "solutions": [(s["solution"], s["identical"]) for s in final["solutions"]],
        "rounds": [(p["correct"], p["status"]) for p in rec["rounds"]],
    }


def steps(path: str) -> list[tuple]:
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    return [(s["round"], s["index"], s["code"], s["outcome"]) for s in lines if s["type"] == "step"]


@pytest.fixture(scope="module")
def local_run(suite, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    assert bench(suite, out) == 0
    return out


def assert_same_as_local(out: Path, local: Path) -> None:
    got, want = records(out), records(local)
    assert [stable(r) for r in got] == [stable(r) for r in want]
    assert all(r["error"] is None and r["final"]["correct"] for r in got)
    for g, w in zip(got, want, strict=True):  # the trajectories are where the local executor puts them
        assert Path(g["trajectory_path"]).parent == out / "trajectories"
        assert Path(g["trajectory_path"]).name == Path(w["trajectory_path"]).name
        assert steps(g["trajectory_path"]) == steps(w["trajectory_path"])
    assert {p.name for p in (out / "trajectories").iterdir()} == {
        p.name for p in (local / "trajectories").iterdir()
    }
    assert len(list((out / "runs").iterdir())) == len(got)  # one run.json per optimizer run, as locally
    for name in ("results.json", "summary.md"):
        assert (out / name).stat().st_size > 0


def test_bench_on_ray_gives_the_local_records_and_resumes(cluster, suite, local_run, tmp_path, capsys):
    out = tmp_path / "ray"
    assert bench(suite, out, "--executor", "ray") == 0
    assert_same_as_local(out, local_run)
    data = json.loads(capsys.readouterr().out)
    assert data["aggregates"]["default"]["pass_at_1"] == 1.0

    # resumable as with the local executor: a finished run resumed does nothing new
    assert bench(suite, out, "--executor", "ray", "--resume") == 0
    assert len(records(out)) == 4 and json.loads(capsys.readouterr().out)["resumed"] == 4


def _node_processes() -> dict[int, str]:
    """pid -> title of this cluster's AfterburnerNode actor processes (Ray sets the title to ray::Class)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if title.startswith("ray::AfterburnerNode"):
            found[int(entry.name)] = title
    return found


def _has_children(pid: int) -> bool:
    try:
        return bool((Path(f"/proc/{pid}/task/{pid}/children")).read_text().split())
    except OSError:
        return False


def test_a_killed_node_process_is_restarted_and_its_unit_retried(cluster, suite, local_run, tmp_path):
    out = tmp_path / "ray-killed"
    codes: list[int] = []
    run = threading.Thread(target=lambda: codes.append(bench(suite, out, "--executor", "ray")))
    before = set(_node_processes())
    run.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and run.is_alive():
        # the new actor, once it has started its sandbox workers, is in the middle of a unit
        for pid, title in _node_processes().items():
            if pid not in before and title.endswith(".run") and _has_children(pid):
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        time.sleep(0.05)
    assert killed is not None, "never saw the Ray node actor running a unit"
    assert not (out / "results.jsonl").exists() or len(records(out)) < 4  # it was killed mid-run
    run.join(timeout=600)
    assert codes == [0]
    assert_same_as_local(out, local_run)
    # Ray restarted the actor in a new process, which ran the retried unit (and the rest)
    assert killed not in _node_processes()


TASKS = Path(__file__).resolve().parents[1] / "data" / "train_tasks"
FAST = "```python\ndef sum_squares(n):\n    return (n - 1) * n * (2 * n - 1) // 6\n```"
WRONG = "```python\ndef sum_squares(n):\n    return n\n```"
HANG = "```python\ndef sum_squares(n):\n    while True:\n        pass\n```"


def test_rewards_on_ray_are_the_local_rewards(cluster):
    from afterburner.task import load_task_file
    from training.rewards import SpeedupReward

    task = json.dumps(load_task_file(TASKS / "sum_squares.yaml").to_dict())
    replies = [FAST, WRONG, HANG, "no code here", FAST]
    settings = {"repeats": 3, "workers": 2, "sandbox": {"timeout_s": 2.0}}
    local = SpeedupReward(**settings)
    on_ray = SpeedupReward(executor="ray", **settings)
    try:
        want = [(o.extracted, o.passed, o.status, o.improved) for o in local.outcomes(replies, [task] * 5)]
        got = [(o.extracted, o.passed, o.status, o.improved) for o in on_ray.outcomes(replies, [task] * 5)]
        assert got == want  # in order: the fast ones improved, the wrong one and the hang fail, no code
        assert [g[2] for g in got] == ["passed", "wrong_answer", "timeout", "format_error", "passed"]
        assert on_ray([FAST, WRONG], task=[task] * 2)[0] > 0.6  # the node's warm sandbox, again
        assert pickle.loads(pickle.dumps(on_ray))._cluster is None  # the cluster handle is not pickled
    finally:
        if on_ray._cluster is not None:
            on_ray._cluster.close()


def test_train_collect_on_ray_writes_the_local_trajectories(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the local run's optimizer folders (afterburner-runs/) go here
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([FAST, WRONG]))
    common = ["train", "collect", "--tasks", str(TASKS / "sum_squares.yaml"), "--backend", "scripted",
              "--model", str(replies), "--rounds", "1", "--candidates", "2"]  # fmt: skip
    assert main([*common, "--trajectories-dir", str(tmp_path / "local")]) == 0
    assert main([*common, "--trajectories-dir", str(tmp_path / "ray"), "--executor", "ray"]) == 0
    local, ray_ = tmp_path / "local" / "sum_squares.jsonl", tmp_path / "ray" / "sum_squares.jsonl"
    assert steps(str(ray_)) == steps(str(local)) and len(steps(str(local))) == 2
    assert json.loads(ray_.read_text().splitlines()[-1])["type"] == "end"
    # resumable as locally: the finished task is skipped
    assert main([*common, "--trajectories-dir", str(tmp_path / "ray"), "--executor", "ray"]) == 0
