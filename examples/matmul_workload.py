"""Workload for matmul: two n x n matrices of small integers."""

import random

SIZES = [140]


def generate(n: int, seed: int):
    rng = random.Random(seed)
    a = [[rng.randint(-100, 100) for _ in range(n)] for _ in range(n)]
    b = [[rng.randint(-100, 100) for _ in range(n)] for _ in range(n)]
    return (a, b), {}
