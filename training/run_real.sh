#!/usr/bin/env bash
# The real CPU run (not CI; the lead decides when, the machine is shared):
#   the default 0.5B model with LoRA, GRPO with the sandbox reward for STEPS steps on the dev suite
#   minus its first HELDOUT tasks (40 tasks with slow starting code and workloads),
#   then before/after pass@1 and speedup on the HELDOUT held-out dev tasks with `afterburner bench`.
#
#   training/run_real.sh                     # 100 steps, 10 held-out tasks
#   STEPS=10 SKIP_BENCH=1 training/run_real.sh   # a short check of step time and memory
#
# Outputs in $OUT: the adapter, train_summary.json (step time, peak RSS), reward_curve.png,
# bench/ (results.json, summary.md of base vs trained on the held-out tasks), first_round_*.txt (4
# first-round replies per held-out task from each model, run in the sandbox).
# Expected cost on 2 CPU cores: GRPO ~15-40 s/step (2 generations of up to 192 tokens, sandboxed
# rewards) -> 100 steps in ~30-70 min; the bench ~1-2 h (2 models x 10 tasks x rounds x candidates).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
STEPS="${STEPS:-100}"
HELDOUT="${HELDOUT:-10}"
OUT="${OUT:-runs/grpo-0.5b-cpu}"
BASE="${BASE:-Qwen/Qwen2.5-Coder-0.5B-Instruct}"
SUITE=benchmarks/suites/dev

# the held-out tasks: the first $HELDOUT of the dev suite, the same ones `bench --limit` takes
EXCLUDE=$(python - "$SUITE" "$HELDOUT" <<'EOF'
import sys
from afterburner.suite import load_suite
print("[" + ", ".join(t.name for t in load_suite(sys.argv[1], limit=int(sys.argv[2])).tasks) + "]")
EOF
)
echo "held out: $EXCLUDE"

mkdir -p "$(dirname "$OUT")"
python -m afterburner train grpo --config training/configs/cpu_0.5b_grpo.yaml \
  --output-dir "$OUT" model="$BASE" max_steps="$STEPS" \
  "exclude=$EXCLUDE" \
  2> >(tee "$OUT.train.log" >&2)

python -m afterburner train plot "$OUT"
python - "$OUT" <<'EOF'
import json, sys
s = json.load(open(f"{sys.argv[1]}/train_summary.json"))
print(f"steps {s['steps']}, step time median {s['step_time_s']['median']:.1f} s, peak RSS {s['peak_rss_mb']} MB, "
      f"tasks {s['tasks']}, excluded {len(s['excluded_tasks'])}")
EOF

if [ -z "${SKIP_BENCH:-}" ]; then
  python -m afterburner bench "$SUITE" --limit "$HELDOUT" --model "$BASE" --model "$OUT" \
    --strategy default --rounds 2 --candidates 2 --results-dir "$OUT/bench" --no-progress
  # the prompt GRPO trained on, answered by each model: how many first-round replies are correct / faster
  for model in "$BASE" "$OUT"; do
    python benchmarks/first_round.py --suite "$SUITE" --skip 0 --tasks "$HELDOUT" --n 4 --model "$model" \
      | tee "$OUT/first_round_$(basename "$model").txt"
  done
fi
