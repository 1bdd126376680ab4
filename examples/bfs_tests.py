"""Tests for bfs_distances: check(candidate) raises AssertionError on a wrong answer."""


def _graph(n, edges):
    graph = [[] for _ in range(n)]
    for u, v in edges:
        graph[u].append(v)
        graph[v].append(u)
    return graph


def check(candidate):
    assert candidate([[]], 0) == [0]
    assert candidate([[], [], []], 1) == [-1, 0, -1]
    assert candidate([[1], [0, 2], [1], []], 0) == [0, 1, 2, -1]
    assert candidate(_graph(4, [(0, 1), (1, 2), (2, 3), (3, 0)]), 0) == [0, 1, 2, 1]  # both ways round
    assert candidate(_graph(5, [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)]), 4) == [3, 2, 2, 1, 0]
    assert candidate(_graph(3, [(0, 1), (0, 1), (1, 1)]), 2) == [-1, -1, 0]  # parallel edges, a self-loop
    assert candidate(_graph(6, [(0, 5), (5, 4), (4, 3), (0, 1), (1, 2), (2, 3)]), 0) == [0, 1, 2, 3, 2, 1]
    assert candidate([[1], [2], [0]], 1) == [2, 0, 1]  # directed adjacency lists are followed as given
