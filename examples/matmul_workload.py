"""Workload for matmul: an n x 6n matrix times a 6n x n one, small integers (a Gram-matrix shape)."""

import random

SIZES = [80]


def generate(n: int, seed: int):
    rng = random.Random(seed)
    a = [[rng.randint(-100, 100) for _ in range(6 * n)] for _ in range(n)]
    b = [[rng.randint(-100, 100) for _ in range(n)] for _ in range(6 * n)]
    return (a, b), {}
