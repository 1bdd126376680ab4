"""Workload for running_median: n random integers."""

import random

SIZES = [3000]


def generate(n: int, seed: int):
    rng = random.Random(seed)
    return ([rng.randint(-(10**6), 10**6) for _ in range(n)],), {}
