"""The executor seam without Ray: the local executor's order and errors, choosing by name, the per-process
sandbox, and bench's distributed path run through an executor that pickles every unit (as Ray does)."""

from __future__ import annotations

import json
import pickle
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from afterburner import executor as ex
from afterburner.bench import BenchSettings, read_records, run_bench
from afterburner.errors import ConfigError
from afterburner.executor import LocalExecutor, get_executor, node_cached, node_sandbox
from tests.unit.test_bench_runner import TASK, FakeOptimize, FakeSandbox


@pytest.mark.parametrize("workers", [1, 3])
def test_local_executor_yields_in_order_and_raises_at_the_failed_item(workers):
    def fn(i: int) -> int:
        time.sleep(0.02 * (5 - i))  # the later items finish first
        if i == 4:
            raise ValueError("item 4")
        return i * i

    results = LocalExecutor(workers).map(fn, range(6))
    assert [next(results) for _ in range(4)] == [0, 1, 4, 9]
    with pytest.raises(ValueError, match="item 4"):
        next(results)


def test_local_executor_runs_units_side_by_side():
    active, peak, lock = [0], [0], threading.Lock()

    def fn(i: int) -> int:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return i

    assert list(LocalExecutor(3).map(fn, range(6))) == list(range(6))
    assert peak[0] == 3


def test_executors_are_chosen_by_name_with_clear_errors(monkeypatch):
    assert isinstance(get_executor("local", workers=2), LocalExecutor)
    with pytest.raises(ConfigError, match="unknown executor 'dask'; choose one of local, ray"):
        get_executor("dask")
    with pytest.raises(ConfigError, match="--ray-address needs --executor ray"):
        get_executor("local", address="auto")
    with pytest.raises(ConfigError, match="at least 1 worker"):
        LocalExecutor(0)
    monkeypatch.setitem(sys.modules, "afterburner.executor_ray", None)  # as if Ray were not installed
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"needs Ray: pip install 'afterburner\[ray\]'"):
        get_executor("ray")


class RecordingSandbox:
    def __init__(self, config, workers=None):
        self.config, self.workers = config, workers

    def close(self):
        pass


def test_node_sandbox_is_one_per_process_and_settings(monkeypatch):
    import afterburner.sandbox

    monkeypatch.setattr(afterburner.sandbox, "Sandbox", RecordingSandbox)
    monkeypatch.setattr(ex, "_SANDBOXES", {})
    monkeypatch.setitem(ex._NODE, "workers", None)
    a = node_sandbox({"timeout_s": 3.0})
    assert node_sandbox({"timeout_s": 3.0}) is a and a.config.timeout_s == 3.0 and a.workers is None
    assert node_sandbox({"timeout_s": 4.0}) is not a
    ex.set_node_workers(2)  # what the Ray actor does with its node's CPU count
    assert node_sandbox({"timeout_s": 3.0}).workers == 2
    with pytest.raises(ConfigError, match="SandboxConfig fields"):
        node_sandbox({"no_such_key": 1})
    assert node_cached("k", lambda: [1]) is node_cached("k", lambda: [2])


class PicklingExecutor:
    """Runs units here, but each as a fresh unpickled copy of the function and item (as on a Ray node)."""

    name, distributed = "pickling", True

    def __init__(self):
        self.units = 0

    def map(self, fn, items):
        blob = pickle.dumps(fn)
        for item in items:
            self.units += 1
            yield pickle.loads(pickle.dumps(pickle.loads(blob)(pickle.loads(pickle.dumps(item)))))

    def close(self):
        pass


class WritingOptimize(FakeOptimize):
    """FakeOptimize that also writes its trajectory and run folder, as the optimizer does."""

    def __call__(self, task, *, strategy, backend, **kw):
        result = super().__call__(task, strategy=strategy, backend=backend, **kw)
        with open(kw["trajectory"], "w") as f:
            f.write(json.dumps({"type": "run", "task": task.name, "strategy": strategy}) + "\n")
        run = Path(kw["out_dir"]) / f"{task.name}-{strategy}"
        run.mkdir(parents=True)
        (run / "run.json").write_text("{}")
        result.trajectory_path = kw["trajectory"]
        return result


def _suite(tmp_path):
    d = tmp_path / "suite"
    d.mkdir()
    for name in ("t1", "t2"):
        (d / f"{name}.yaml").write_text(TASK.format(name=name))
    return d


def _stable(rec) -> dict:
    d = rec.to_dict()
    d.pop("wall_time_s")
    d["trajectory_path"] = d["trajectory_path"].rsplit("/", 1)[-1]
    return d


def test_bench_on_a_distributed_executor_writes_what_the_local_one_writes(tmp_path, monkeypatch):
    fake = FakeSandbox()
    monkeypatch.setattr(ex, "node_sandbox", lambda config=None, workers=None: fake)
    suite = _suite(tmp_path)
    settings = BenchSettings(strategies=("fast", "same"), backend="scripted", models=("replay:reference",))
    kw = {"sandbox": FakeSandbox(), "optimize": WritingOptimize(), "progress": False, "plots": False}
    local = run_bench(suite, tmp_path / "local", settings, **kw)
    remote = PicklingExecutor()
    out = tmp_path / "remote"
    (out / "trajectories").mkdir(parents=True)
    (out / "trajectories" / "t1__fast__replay_reference.jsonl").write_text(
        '{"type": "run"}\n'
    )  # an earlier try
    report = run_bench(suite, out, settings, executor=remote, **kw)

    assert remote.units == 4  # one unit per (task, strategy, model)
    assert [_stable(r) for r in report.records] == [_stable(r) for r in local.records]
    for r in report.records:  # the trajectory written here, where the local executor writes it
        path = out / "trajectories" / f"{r.task}__{r.strategy}__replay_reference.jsonl"
        assert r.trajectory_path == str(path)
        assert json.loads(path.read_text()) == {"type": "run", "task": r.task, "strategy": r.strategy}
    assert (
        out / "trajectories" / "t1__fast__replay_reference.interrupted.jsonl"
    ).read_text() == '{"type": "run"}\n'
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["t1-fast", "t1-same", "t2-fast", "t2-same"]
    assert [asdict(r.final) for r in read_records(out / "results.jsonl")] == [
        asdict(r.final) for r in report.records
    ]

    again = run_bench(suite, out, settings, executor=remote, resume=True, **kw)
    assert again.resumed == 4 and remote.units == 4  # nothing left to run


def test_the_ray_training_config_loads_and_its_trl_args_are_grpo_settings():
    from training.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "training" / "configs" / "gpu_grpo_ray.yaml")
    assert (cfg.reward_executor, cfg.ray_address, cfg.use_vllm, cfg.vllm_mode) == (
        "ray",
        "auto",
        True,
        "server",
    )
    trl = pytest.importorskip("trl", reason="trl is not installed (pip install -e '.[train]')")
    from training.common import trl_kwargs

    kw = trl_kwargs(
        cfg, trl.GRPOConfig, "out", use_vllm=cfg.use_vllm, vllm_mode=cfg.vllm_mode
    )  # unknown keys raise
    assert kw["vllm_server_base_url"].endswith(":8000") and kw["vllm_mode"] == "server"
    with pytest.raises(ConfigError, match="reward_executor 'dask' is not one of local, ray"):
        load_config(None, {"reward_executor": "dask"})


def test_the_cli_says_in_one_line_what_is_wrong_with_the_executor_options(tmp_path, monkeypatch, capsys):
    from afterburner.cli import main

    suite = _suite(tmp_path)
    common = ["bench", str(suite), "--backend", "scripted", "--model", "replay:reference", "--results-dir"]
    assert main([*common, str(tmp_path / "a"), "--ray-address", "auto"]) == 2
    assert capsys.readouterr().err == "afterburner: error: --ray-address needs --executor ray\n"
    monkeypatch.setitem(sys.modules, "afterburner.executor_ray", None)  # as if Ray were not installed
    monkeypatch.setitem(sys.modules, "ray", None)
    assert (
        main(
            [
                "train",
                "collect",
                "--tasks",
                str(suite),
                "--trajectories-dir",
                str(tmp_path / "t"),
                "--executor",
                "ray",
            ]
        )
        == 2
    )
    assert (
        capsys.readouterr().err
        == "afterburner: error: --executor ray needs Ray: pip install 'afterburner[ray]'\n"
    )
