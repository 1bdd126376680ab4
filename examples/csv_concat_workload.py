"""Workload for to_csv: n rows of 8 fields (ids, prices, names; a few need quoting)."""

import random

SIZES = [15000]

_WORDS = ["alpha", "beta", "gamma", "delta, inc", 'the "best"', "omega"]


def generate(n: int, seed: int):
    rng = random.Random(seed)
    rows = [
        [
            i,
            rng.randrange(10**6),
            round(rng.uniform(0, 1000), 2),
            rng.choice(_WORDS),
            rng.choice(_WORDS),
            rng.randrange(100),
            rng.choice(_WORDS),
            rng.random() < 0.5,
        ]
        for i in range(n)
    ]
    return (rows,), {}
