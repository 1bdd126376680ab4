"""Distances from one node to every other in an unweighted graph (BFS with a deque)."""

from collections import deque


def bfs_distances(graph, source):
    """Return the shortest-path lengths (in edges) from `source` to every node, -1 if unreachable."""
    distance = [-1] * len(graph)
    distance[source] = 0
    queue = deque([source])
    while queue:
        node = queue.popleft()
        d = distance[node] + 1
        for nxt in graph[node]:
            if distance[nxt] == -1:
                distance[nxt] = d
                queue.append(nxt)
    return distance
