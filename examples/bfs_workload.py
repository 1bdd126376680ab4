"""Workload for bfs_distances: a random sparse undirected graph on n nodes with 2n edges."""

import random

SIZES = [100000]


def generate(n: int, seed: int):
    rng = random.Random(seed)
    graph = [[] for _ in range(n)]
    for _ in range(2 * n):
        u, v = rng.randrange(n), rng.randrange(n)
        graph[u].append(v)
        graph[v].append(u)
    return (graph, 0), {}
