"""Workload for find_duplicates: n integers drawn from a range of 2n values (about a fifth repeat)."""

import random

SIZES = [3000]


def generate(n: int, seed: int):
    rng = random.Random(seed)
    return ([rng.randrange(2 * n) for _ in range(n)],), {}
