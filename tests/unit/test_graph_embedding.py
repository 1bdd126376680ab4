"""The compiled loop inside a user's own langgraph application (no Optimizer around it)."""

from __future__ import annotations

from afterburner.agent.graph import build_graph
from afterburner.agent.state import OptimizerState, RunContext, Settings
from afterburner.agent.strategies import get_strategy
from afterburner.llm import get_backend
from afterburner.task import Task
from tests.unit.fakes import FakeSandbox
from tests.unit.test_graph import FAST, ORIGINAL, SLOWER


def context(replies):
    task = Task(name="dedupe", entry_point="dedupe", code=ORIGINAL, check_source="def check(c): pass\n")
    return RunContext(
        task=task,
        strategy=get_strategy("default"),
        settings=Settings(rounds=1, candidates=2),
        backend=get_backend("scripted", replies=replies),
        sandbox=FakeSandbox(),
    )


def test_build_graph_runs_on_its_own_with_a_runtime_context():
    state = build_graph().invoke({}, context=context([SLOWER, FAST]))
    assert state["round"] == 1 and state["stop_reason"] == "max_rounds"
    assert "# speed: 4" in state["best_code"] and state["final"]["improved"]


def test_the_loop_as_a_subgraph_node_of_a_parent_graph():
    from langgraph.graph import END, START, StateGraph

    class Parent(OptimizerState, total=False):
        note: str

    def announce(state: Parent) -> dict:
        return {"note": f"best after {state['round']} round(s)"}

    g = StateGraph(Parent, context_schema=RunContext)
    g.add_node("optimize", build_graph())
    g.add_node("announce", announce)
    g.add_edge(START, "optimize")
    g.add_edge("optimize", "announce")
    g.add_edge("announce", END)
    out = g.compile().invoke({}, context=context([FAST, SLOWER]))
    assert out["note"] == "best after 1 round(s)" and "# speed: 4" in out["best_code"]
