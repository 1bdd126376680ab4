#!/usr/bin/env bash
# The headline benchmark (docs/benchmarks.md, "Headline results"): the default 0.5B model on CPU over
# the whole dev suite, three strategies interleaved per task, the same LLM budget for each:
#   default      3 rounds x 2 candidates, profile + remedy feedback, significant gains only (patience 2)
#   afterburner  3 rounds x 2 candidates, the paper's <thinking>/<solution> loop, greedy update
#   baseline     6 samples in one round, no feedback (best of N)
#
#   benchmarks/headline.sh            # start, or continue where the last run stopped
#
# The results live in the repository (benchmarks/results/dev-headline/), so a run stopped at the end of
# one session is continued by the next one with the same command: finished (task, strategy) records are
# kept, the rest run. Each task's strategies run back to back, so they share the machine's conditions.
# Cost on 2 CPU cores: about 40-70 s per (task, strategy), 150 records, roughly 2-3 hours in all.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TOKENIZERS_PARALLELISM=false
OUT="${OUT:-benchmarks/results/dev-headline}"
resume=()
[ -f "$OUT/run.json" ] && resume=(--resume)
exec python -m afterburner bench benchmarks/suites/dev \
  --strategy default --strategy afterburner --strategy baseline \
  --rounds 3 --candidates 2 --out "$OUT" "${resume[@]}" "$@"
