"""Workload for histogram: n floats (some out of range) into 100 bins."""

import random

SIZES = [50000]


def generate(n: int, seed: int):
    rng = random.Random(seed)
    values = [rng.gauss(50, 20) for _ in range(n)]
    return (values, 0.0, 100.0, 100), {}
