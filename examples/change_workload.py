"""Workload for count_change: the amount n with the usual euro-cent coins."""

import random

SIZES = [165]


def generate(n: int, seed: int):
    coins = [50, 20, 10, 5, 2, 1]
    random.Random(seed).shuffle(coins)
    return (n, coins), {}
