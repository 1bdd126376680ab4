#!/usr/bin/env bash
# The two-stage recipe on real code, on CPU (issue 16; not CI, the machine is shared), in one resumable
# command: every finished step is skipped when the script runs again, and an interrupted training
# stage continues from its last checkpoint (resume: true).
#
#   training/run_two_stage.sh               # the real run, into runs/two-stage
#   SMOKE=1 training/run_two_stage.sh       # a tiny run of every step, into runs/two-stage-smoke
#   SKIP_BENCH=1 training/run_two_stage.sh  # training and the first-round check only
#
# 1. stage 1, SFT of the base model (LoRA) on the train half of benchmarks/suites/real: each task's
#    first-round prompt answered with its known faster version (training/configs/cpu_0.5b_sft_real.yaml)
# 2. stage 2, GRPO from the stage-1 adapter with the sandbox reward, 4 generations per prompt
#    (training/configs/cpu_0.5b_grpo_real.yaml); then the reward curve and the per-quarter table
# 3. for each model (base, stage 1, stage 1 + 2), on the test half (which no training step sees):
#    4 first-round replies per task, each run in the sandbox and classified (format error / the code
#    again / wrong / correct / significantly faster): $OUT/first_round_<model>.{txt,json}
# 4. the whole optimizer, `afterburner bench` on the test half, the three models interleaved per task
#    ($OUT/bench; resumable on its own with --resume)
# 5. $OUT/tables.md: the tables for docs/training.md
#
# Environment: OUT (runs/two-stage), BASE (Qwen/Qwen2.5-Coder-0.5B-Instruct), SMOKE, SKIP_BENCH.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # benchmarks/first_round.py imports this checkout

BASE="${BASE:-Qwen/Qwen2.5-Coder-0.5B-Instruct}"
SUITE=benchmarks/suites/real
if [ -n "${SMOKE:-}" ]; then
  OUT="${OUT:-runs/two-stage-smoke}"
  SFT_ARGS=(max_steps=1 save_steps=1)
  GRPO_ARGS=(max_steps=2 save_steps=1 max_completion_length=64)
  FIRST=(--tasks 2 --n 2 --max-new-tokens 64)
  BENCH=(--limit 1 --rounds 1 --candidates 1 --no-curves)
else
  OUT="${OUT:-runs/two-stage}"
  SFT_ARGS=()
  GRPO_ARGS=()
  FIRST=(--tasks 1000 --n 4 --max-new-tokens 384)
  BENCH=(--rounds 2 --candidates 2)
fi
STAGE1="$OUT/stage1-sft"
STAGE2="$OUT/stage2-grpo"
mkdir -p "$OUT"

done_or() {  # done_or MARKER WHAT COMMAND...: run COMMAND unless MARKER exists (a finished step)
  local marker=$1 what=$2
  shift 2
  if [ -e "$marker" ]; then
    echo "== $what: done ($marker)"
  else
    echo "== $what"
    "$@"
  fi
}

done_or "$STAGE1/train_summary.json" "stage 1: SFT on the train half" \
  python -m afterburner train sft --config training/configs/cpu_0.5b_sft_real.yaml \
  --output-dir "$STAGE1" model="$BASE" resume=true "${SFT_ARGS[@]}"

done_or "$STAGE2/train_summary.json" "stage 2: GRPO from the stage-1 adapter" \
  python -m afterburner train grpo --config training/configs/cpu_0.5b_grpo_real.yaml \
  --output-dir "$STAGE2" model="$STAGE1" resume=true "${GRPO_ARGS[@]}"

done_or "$STAGE2/quarters.md" "stage 2: reward curve and per-quarter table" \
  sh -c "python -m afterburner train plot '$STAGE2' > '$STAGE2/quarters.md.tmp' && mv '$STAGE2/quarters.md.tmp' '$STAGE2/quarters.md'"

first_round() {  # first_round LABEL MODEL: 4 first-round replies per test-half task, run in the sandbox
  python benchmarks/first_round.py --suite "$SUITE" --split test --skip 0 "${FIRST[@]}" --model "$2" \
    --json "$OUT/first_round_$1.json" | tee -a "$OUT/first_round_$1.txt"
}
done_or "$OUT/first_round_base.json" "first round on the test half: base" first_round base "$BASE"
done_or "$OUT/first_round_stage1.json" "first round on the test half: stage 1" first_round stage1 "$STAGE1"
done_or "$OUT/first_round_stage1+2.json" "first round on the test half: stage 1 + 2" first_round stage1+2 "$STAGE2"

if [ -z "${SKIP_BENCH:-}" ]; then
  bench() {
    python -m afterburner bench "$SUITE" --split test --model "$BASE" --model "$STAGE1" --model "$STAGE2" \
      --strategy default "${BENCH[@]}" --results-dir "$OUT/bench" --resume --no-progress
    touch "$OUT/bench/.done"
  }
  done_or "$OUT/bench/.done" "the whole optimizer on the test half: afterburner bench" bench
fi

python - "$OUT" <<'EOF'
"""The tables for docs/training.md from the run's files."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
lines = ["# Two stages on real code: the run's tables", ""]
for stage in ("stage1-sft", "stage2-grpo"):
    f = out / stage / "train_summary.json"
    if f.is_file():
        s = json.loads(f.read_text())
        st = s.get("step_time_s", {})
        zero = s.get("zero_std_share") or {}
        lines.append(
            f"- {stage}: {s.get('steps')} steps, step time median {st.get('median') or 0:.1f} s, peak RSS "
            f"{s.get('peak_rss_mb')} MB, policy: {s.get('policy')}"
            + (f", zero-advantage groups {zero['overall']:.0%}" if zero.get("overall") is not None else "")
        )
quarters = out / "stage2-grpo" / "quarters.md"
if quarters.is_file():
    lines += ["", "Stage 2 per quarter:", "", *[x for x in quarters.read_text().splitlines() if x.startswith("|")]]
labels = {"format_error": "format error", "unchanged": "the code again", "wrong": "wrong",
          "correct": "correct", "faster": "significantly faster"}
lines += ["", "First-round replies on the test half (4 per task):", "",
          "| model | " + " | ".join(labels.values()) + " |", "|---" * 6 + "|"]
for label in ("base", "stage1", "stage1+2"):
    f = out / f"first_round_{label}.json"
    if f.is_file():
        s = json.loads(f.read_text())
        n = s["replies"]
        lines.append(f"| {label} | " + " | ".join(f"{s['verdicts'][k]}/{n}" for k in labels) + " |")
summary = out / "bench" / "summary.md"
if summary.is_file():
    lines += ["", f"The whole optimizer: {summary}"]
(out / "tables.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
