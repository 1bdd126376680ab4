"""Clusters of a similarity graph given as a dense adjacency matrix."""
from collections import deque

import numpy as np


def connected_components(adjacency):
    """The number of components and a label per node (components numbered by their lowest node)."""
    A = np.asarray(adjacency)
    n = A.shape[0]
    labels = np.full(n, -1, dtype=np.int64)
    current = 0
    for start in range(n):
        if labels[start] != -1:
            continue
        labels[start] = current
        queue = deque([start])
        while queue:
            u = queue.popleft()
            for v in range(n):
                if (A[u, v] or A[v, u]) and labels[v] == -1:
                    labels[v] = current
                    queue.append(v)
        current += 1
    return current, labels


def cluster_points(X, radius):
    d = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    return connected_components(d < radius)
