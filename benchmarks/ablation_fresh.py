"""Ablation: how much of `default`'s lead over the baseline comes from fresh candidates alone?

    HF_HUB_OFFLINE=1 python benchmarks/ablation_fresh.py --limit 32 --out benchmarks/results/dev-ablation-fresh
    # two shards, like benchmarks/headline.sh; then once without --shard to write the combined report
    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/ablation_fresh.py --limit 32 --out D --resume --shard 0/2 &
    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/ablation_fresh.py --limit 32 --out D --resume --shard 1/2

Runs `afterburner bench benchmarks/suites/dev` with one extra strategy, ``baseline-fresh``: the headline's
no-feedback baseline (all 3 x 2 samples in one round) with half of the samples written from the problem
statement alone, as `default` does in every round. So it has `default`'s sampling and none of its loop:
compare its records with the headline's `default` and `baseline` on the same tasks
(docs/benchmarks.md, "What was tried"). Extra arguments go to `afterburner bench`.
"""

from __future__ import annotations

import dataclasses
import sys

from afterburner.agent.strategies import STRATEGIES
from afterburner.cli import main

STRATEGIES["baseline-fresh"] = dataclasses.replace(
    STRATEGIES["baseline"],
    name="baseline-fresh",
    fresh=0.5,
    description="no feedback, best of rounds x candidates samples in one round, half from the statement",
)

if __name__ == "__main__":
    args = "bench benchmarks/suites/dev --strategy baseline-fresh --rounds 3 --candidates 2".split()
    sys.exit(main(args + sys.argv[1:]))
