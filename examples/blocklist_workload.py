"""Workload for filter_blocked: n addresses checked against a blocklist of n/2 (a third are blocked)."""

import random

SIZES = [6000]


def generate(n: int, seed: int):
    rng = random.Random(seed)
    users = [
        f"user{rng.randrange(10**7)}@{rng.choice(['example.org', 'mail.com', 'corp.net'])}" for _ in range(n)
    ]
    blocked = [u.upper() if rng.random() < 0.3 else u for u in rng.sample(users, n // 3)]
    blocked += [f"spam{i}@junk.biz" for i in range(n // 2 - len(blocked))]
    rng.shuffle(blocked)
    return (users, blocked), {}
