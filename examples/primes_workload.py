"""Workload for count_primes: a limit near n (the seed moves it a little)."""

import random

SIZES = [150000]


def generate(n: int, seed: int):
    return (n + random.Random(seed).randrange(100),), {}
