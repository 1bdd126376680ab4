"""Embedding afterburner in Python: one call, the object form with events, and the graph itself.

python examples/embed.py                  # offline: a scripted "model" that knows the fast version
python examples/embed.py --model          # the default local model (slow on CPU)
"""

from __future__ import annotations

import sys
from pathlib import Path

import afterburner

HERE = Path(__file__).resolve().parent


def load_task() -> afterburner.Task:
    return afterburner.load_target(
        f"{HERE / 'duplicates.py'}::find_duplicates",
        tests=HERE / "duplicates_tests.py",
        workload=HERE / "duplicates_workload.py",
    )


def backend_options() -> dict:
    if "--model" in sys.argv:
        return {"backend": "transformers", "rounds": 2, "candidates": 2, "max_new_tokens": 300}
    fast = (HERE / "duplicates_fast.py").read_text()
    return {
        "backend": "scripted",
        "replies": [f"```python\n{fast}```\n"],
        "cycle": True,
        "rounds": 2,
        "candidates": 1,
    }


def one_call() -> None:
    """1. One call: returns an OptimizationResult (the best code, a measured speedup, the trajectory)."""
    result = afterburner.optimize(load_task(), **backend_options())
    lo, hi = result.speedup_ci
    print(
        f"[optimize] {result.status}: {result.speedup:.1f}x (95% CI {lo:.1f}-{hi:.1f}), "
        f"{result.rounds} rounds, stop: {result.stop_reason}, trajectory: {result.trajectory_path}"
    )


def with_events() -> None:
    """2. The object form, with a callback for round_started / candidate_evaluated / best_improved / finished."""

    def on_event(name: str, data: dict) -> None:
        if name == "candidate_evaluated":
            print(f"  round {data['round']} candidate {data['index']}: {data['status']}")
        elif name == "best_improved":
            print(f"  new best in round {data['round']}: ~{data['best_speedup']:.1f}x")

    result = afterburner.Optimizer(**backend_options()).run(load_task(), on_event=on_event)
    print(f"[Optimizer] best code after each round: {len(result.rounds_best_code)} versions")


def raw_graph() -> None:
    """3. The compiled langgraph graph, for use inside your own langgraph application."""
    from afterburner.agent.state import RunContext, Settings
    from afterburner.agent.strategies import get_strategy
    from afterburner.llm import get_backend
    from afterburner.sandbox import Sandbox

    options = backend_options()
    backend = get_backend(
        options.pop("backend"), **{k: options[k] for k in ("replies", "cycle") if k in options}
    )
    graph = afterburner.build_graph()  # or build_graph(checkpointer=...) to make it resumable
    with Sandbox() as sandbox:
        context = RunContext(
            task=load_task(),
            strategy=get_strategy("default"),
            settings=Settings(rounds=1, candidates=1),
            backend=backend,
            sandbox=sandbox,
        )
        state = graph.invoke({}, context=context)
    print(
        f"[graph] rounds: {state['round']}, stop: {state['stop_reason']}, "
        f"final speedup: {state['final']['speedup'] if state['final'] else 1.0:.1f}x"
    )


if __name__ == "__main__":
    one_call()
    with_events()
    raw_graph()
