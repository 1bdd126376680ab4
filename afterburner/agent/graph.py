"""The optimization loop as a langgraph graph (typed state, plain-function nodes, a routing function).

    graph = build_graph(checkpointer=None)
    graph.invoke({}, config={"configurable": {"thread_id": run_id}}, context=RunContext(...))

Use it inside your own langgraph application as a subgraph, or run it through `Optimizer`, which adds
the run directory, the trajectory, the SQLite checkpointer (resume) and Ctrl-C handling.
"""

from __future__ import annotations

from typing import Any

from afterburner.agent import nodes
from afterburner.agent.state import OptimizerState, RunContext

__all__ = ["build_graph"]


def build_graph(checkpointer: Any = None) -> Any:
    """Compile the loop: measure_original -> generate -> evaluate -> select -> refine | finish."""
    from langgraph.graph import END, START, StateGraph

    g = StateGraph(OptimizerState, context_schema=RunContext)
    g.add_node("measure_original", nodes.measure_original)
    g.add_node("generate", nodes.generate)
    g.add_node("evaluate", nodes.evaluate)
    g.add_node("select", nodes.select)
    g.add_node("refine", nodes.refine)
    g.add_node("finish", nodes.finish)
    g.add_edge(START, "measure_original")
    g.add_edge("measure_original", "generate")
    g.add_edge("generate", "evaluate")
    g.add_edge("evaluate", "select")
    g.add_conditional_edges("select", nodes.route, {"refine": "refine", "finish": "finish"})
    g.add_edge("refine", "generate")
    g.add_edge("finish", END)
    return g.compile(checkpointer=checkpointer)
