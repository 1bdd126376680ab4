#!/usr/bin/env bash
# The headline benchmark (docs/benchmarks.md, "Headline results"): the default 0.5B model on CPU over
# a whole suite (SUITE=real: the real-code suite, the README's first table; SUITE=dev: the LeetCode dev
# suite, the default), three strategies interleaved per task, the same LLM budget for each:
#   default      3 rounds x 2 candidates, profile + remedy feedback, significant gains only (patience 2)
#   afterburner  3 rounds x 2 candidates, the paper's <thinking>/<solution> loop, greedy update
#   baseline     6 samples in one round, no feedback (best of N)
#
#   benchmarks/headline.sh            # start, or continue where the last run stopped
#   SUITE=real benchmarks/headline.sh # the real-code suite, into benchmarks/results/real-headline/
#   MODEL=Qwen/Qwen2.5-Coder-1.5B-Instruct SUITE=real OUT=benchmarks/results/real-headline-1.5b benchmarks/headline.sh
#   SHARDS=2 benchmarks/headline.sh   # two processes side by side, each pinned to one core (taskset)
#   SUITE=real benchmarks/headline.sh --report   # run nothing: the report of the records so far
#
# The results live in the repository (benchmarks/results/dev-headline/), so a run stopped at the end of
# one session is continued by the next one with the same command: finished (task, strategy) records are
# kept, the rest run. Each task's strategies run back to back, so they share the machine's conditions.
#
# With SHARDS=N, shard i runs every N-th task from the i-th on core i alone (its model with one thread,
# its sandbox worker pinned there), all appending to the same results; a last run without --shard then
# writes the combined report. Generation with one thread gives 14.1 tokens/s against 16.3 with two on
# this 2-core machine (so two one-thread shards generate ~1.7x as many tokens per second), but each
# shard also measures on its one core alone; end to end, see docs/benchmarks.md. A shard's measurements
# never share a core with anything but its own parent. Logs: OUT/shard-i.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TOKENIZERS_PARALLELISM=false
SUITE="${SUITE:-dev}"
OUT="${OUT:-benchmarks/results/$SUITE-headline}"
SHARDS="${SHARDS:-1}"
cmd=(python -m afterburner bench "benchmarks/suites/$SUITE"
  --strategy default --strategy afterburner --strategy baseline ${MODEL:+--model "$MODEL"}
  --rounds 3 --candidates 2 --results-dir "$OUT" --resume)
if [ "$SHARDS" -gt 1 ]; then
  mkdir -p "$OUT"
  pids=()
  for i in $(seq 0 $((SHARDS - 1))); do
    OMP_NUM_THREADS=1 taskset -c "$i" "${cmd[@]}" --shard "$i/$SHARDS" "$@" >"$OUT/shard-$i.log" 2>&1 &
    pids+=($!)
    sleep 5  # let the first one write run.json
  done
  trap 'kill "${pids[@]}" 2>/dev/null' INT TERM
  status=0
  for p in "${pids[@]}"; do wait "$p" || status=$?; done
  [ "$status" = 0 ] || { echo "headline: a shard failed (status $status); see $OUT/shard-*.log" >&2; exit "$status"; }
fi
exec "${cmd[@]}" "$@"
