"""Distances from one node to every other in an unweighted graph (breadth-first search)."""


def bfs_distances(graph, source):
    """Return the shortest-path lengths (in edges) from `source` to every node, -1 if unreachable.

    `graph` is an adjacency list: graph[u] lists the neighbours of node u (nodes are 0..len(graph)-1).

    >>> bfs_distances([[1], [0, 2], [1], []], 0)
    [0, 1, 2, -1]
    """
    distance = [-1] * len(graph)
    distance[source] = 0
    queue = [source]
    while queue:
        node = queue.pop(0)
        for nxt in graph[node]:
            if distance[nxt] == -1:
                distance[nxt] = distance[node] + 1
                queue.append(nxt)
    return distance
