"""Compare strategies from benchmark records, on the tasks they share, without running anything.

    python benchmarks/head_to_head.py benchmarks/results/dev-headline/results.jsonl
    python benchmarks/head_to_head.py benchmarks/results/dev-headline/results.jsonl \\
        benchmarks/results/dev-ablation-fresh/results.jsonl      # the ablation against the headline

Reads one or more `results.jsonl` files (the latest record per task and strategy wins), keeps the tasks
every strategy has a record for, and prints per strategy the aggregates of `afterburner bench` with the
tokens and machine minutes summed over those tasks; then, for each pair, on how many tasks only one of the
two is significantly faster (interval lower bound >= 1.1x) and the two-sided sign-test p-value.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math

from afterburner.bench.evaluate import TaskRecord
from afterburner.metrics import aggregate


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial test of wins vs losses at p = 1/2."""
    n, k = wins + losses, min(wins, losses)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", help="results.jsonl files of `afterburner bench` runs")
    args = ap.parse_args()
    latest: dict[tuple[str, str], TaskRecord] = {}
    for path in args.results:
        with open(path) as f:
            for line in f:
                r = TaskRecord.from_dict(json.loads(line))
                latest[(r.task, r.strategy)] = r
    strategies = list(dict.fromkeys(s for _, s in latest))
    tasks = sorted({t for t, _ in latest if all((t, s) in latest for s in strategies)})
    print(f"{len(tasks)} tasks with a record for every strategy ({', '.join(strategies)})\n")
    print("| strategy | signif. % | geomean | Time % | Memory % | Integral % | tokens | machine min |")
    print("|---|---|---|---|---|---|---|---|")
    for s in strategies:
        group = [latest[(t, s)] for t in tasks]
        a = aggregate([r.final for r in group])
        tokens, minutes = sum(r.tokens_used for r in group), sum(r.wall_time_s for r in group) / 60
        print(f"| {s} | {100 * a.significant_rate:.1f} | {a.geomean_speedup:.2f}x | {a.time_pct:.1f} | "
              f"{a.memory_pct:.1f} | {a.integral_pct:.1f} | {tokens / 1000:.0f}k | {minutes:.0f} |")  # fmt: skip
    print()
    for s1, s2 in itertools.combinations(strategies, 2):
        only = {s: [t for t in tasks if latest[(t, s)].final.significant()
                    and not latest[(t, o)].final.significant()] for s, o in ((s1, s2), (s2, s1))}  # fmt: skip
        p = sign_test(len(only[s1]), len(only[s2]))
        print(f"{s1} vs {s2}: significant only for {s1} on {len(only[s1])}, only for {s2} on {len(only[s2])} "
              f"(sign test p = {p:.3f})")  # fmt: skip
        for s in (s1, s2):
            if only[s]:
                print(f"  only {s}: {', '.join(only[s])}")


if __name__ == "__main__":
    main()
