"""The optimization loop: langgraph state and nodes, strategies, remedies, and the `Optimizer` runner."""
