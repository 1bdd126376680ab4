"""How fast do candidate evaluations go through each executor? A script (not a test).

    python benchmarks/executor.py                 # 24 evaluations per setting (a few minutes)
    python benchmarks/executor.py --n 8 --noop 100  # shorter, rougher

An evaluation is one training-reward unit (`training.rewards.RewardJob`): extract the reply, check it on
the task's tests, measure it (3 timed runs, plus the memory runs), and confirm a significant difference
with one interleaved comparison, as a GRPO step does. The replies cycle through a closed form (much
faster: measured and confirmed), a generator expression (about as fast: measured), and a wrong one
(checked only). The task is tests/data/train_tasks/sum_squares.yaml.

For each setting (the local executor with 1 and 2 sandbox workers in this process; a local Ray cluster
of 1 and 2 CPUs, one node actor with 1 and 2 sandbox workers): the first unit (it starts the sandbox
and measures the task's baseline, and on Ray the node actor) is timed apart, then `--n` evaluations give
evaluations per minute. The per-unit overhead is `--noop` units that do nothing, one at a time (a round
trip each), through each executor. Requires Ray (pip install 'afterburner[ray]').
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # the local cluster on 127.0.0.1 only

from afterburner.executor import LocalExecutor, close_node
from afterburner.task import load_task_file
from training import rewards

TASK = Path(__file__).resolve().parents[1] / "tests" / "data" / "train_tasks" / "sum_squares.yaml"
REPLIES = [
    "```python\ndef sum_squares(n):\n    return (n - 1) * n * (2 * n - 1) // 6\n```",
    "```python\ndef sum_squares(n):\n    return sum(i * i for i in range(n))\n```",
    "```python\ndef sum_squares(n):\n    return n\n```",
]


def noop(item: int) -> int:
    return item


def run(executor, workers: int, n: int, task_json: str) -> dict:
    job = rewards.RewardJob(repeats=3, workers=workers, sandbox={"timeout_s": 5.0})
    t0 = time.perf_counter()
    (first,) = executor.map(job, [(task_json, REPLIES[0])])
    first_s = time.perf_counter() - t0
    assert first is not None and first.passed
    items = [(task_json, REPLIES[i % len(REPLIES)]) for i in range(n)]
    t0 = time.perf_counter()
    outcomes = list(executor.map(job, items))
    elapsed = time.perf_counter() - t0
    statuses = Counter(o.status if o is not None else "no reward" for o in outcomes)
    return {"first_unit_s": round(first_s, 2), "n": n, "seconds": round(elapsed, 2),
            "evals_per_min": round(60 * n / elapsed, 1), "statuses": dict(statuses)}  # fmt: skip


def overhead(executor, m: int) -> float:
    """Milliseconds per no-op unit (on a 1-slot executor: one in flight at a time, a round trip each)."""
    list(executor.map(noop, range(5)))  # warm
    t0 = time.perf_counter()
    assert list(executor.map(noop, range(m))) == list(range(m))
    return round((time.perf_counter() - t0) / m * 1e3, 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24, help="evaluations per setting")
    ap.add_argument("--noop", type=int, default=200, help="no-op units for the overhead")
    ap.add_argument("--out", default="benchmarks/results/executor.json")
    args = ap.parse_args()
    import ray

    from afterburner.executor_ray import RayExecutor

    task_json = json.dumps(load_task_file(TASK).to_dict())
    rows: dict[str, dict] = {}
    for workers in (1, 2):
        rewards._BASELINES.clear()
        close_node()
        rows[f"local, {workers} worker(s)"] = run(LocalExecutor(workers), workers, args.n, task_json)
        print(rows)
    close_node()
    local_ms = overhead(LocalExecutor(1), args.noop)
    ray_ms = None
    for cpus in (1, 2):
        t0 = time.perf_counter()
        with RayExecutor(num_cpus=cpus) as ex:
            start_s = time.perf_counter() - t0
            row = run(ex, cpus, args.n, task_json)
            rows[f"ray, {cpus} worker(s)"] = {"cluster_start_s": round(start_s, 2), **row}
            print(rows)
            if cpus == 1:  # one slot on the one node
                ray_ms = overhead(ex, args.noop)
        assert not ray.is_initialized()
    result = {
        "rows": rows,
        "overhead_ms_per_unit": {"local": local_ms, "ray": ray_ms},
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print("| executor | cluster start, s | first unit, s | evaluations/min | outcomes |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
        print(
            f"| {name} | {r.get('cluster_start_s', '-')} | {r['first_unit_s']} | {r['evals_per_min']} | {outcomes} |"
        )
    print(f"per-unit overhead (no-op, one at a time): local {local_ms} ms, ray {ray_ms} ms")
    print(f"load average during the run: {result['load_average']}")


if __name__ == "__main__":
    main()
