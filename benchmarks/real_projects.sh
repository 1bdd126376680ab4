#!/usr/bin/env bash
# The zero-config path on real code nobody here wrote (docs/real-projects.md): three pure-Python PyPI
# packages that ship their tests, each copied from its sdist into a temp project (a git repository, so the
# change is a diff `git apply` takes), then `afterburner optimize FILE.py::NAME` with no --tests and no
# --workload: the package's own pytest suite is discovered and recorded, the recorded calls are the oracle,
# the costliest of them the workload, the discovered tests gate every candidate.
#
#   benchmarks/real_projects.sh                     # the default model (transformers backend)
#   BACKEND=scripted benchmarks/real_projects.sh    # no model: discovery, recording, verification, the
#                                                   # original measured and gated; every reply is empty
#   WORK=/tmp/rp ROUNDS=3 CANDIDATES=2 benchmarks/real_projects.sh   # keep the work dir, a bigger budget
#
# Per target it writes WORK/<package>.log (what was found, the summary) and WORK/<package>.json (the
# result, with the diff), and prints one line each at the end. Needs pip (to download the sdists) and git.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TOKENIZERS_PARALLELISM=false
PY="${PYTHON:-python}"
BACKEND="${BACKEND:-transformers}"
ROUNDS="${ROUNDS:-2}"
CANDIDATES="${CANDIDATES:-2}"
WORK="${WORK:-$(mktemp -d -t afterburner-real-XXXXXX)}"
mkdir -p "$WORK/dl" "$WORK/projects" "$WORK/runs"

# package==version  target (relative to the package's sdist root)
TARGETS=(
  "inflection==0.5.1 inflection/__init__.py::pluralize"
  "toolz==1.2.0 toolz/dicttoolz.py::merge_with"
  "more-itertools==11.2.1 more_itertools/recipes.py::nth_combination"
)

backend_args=(--backend "$BACKEND")
if [ "$BACKEND" = scripted ]; then
  echo '["(no code: the scripted backend only exercises discovery, recording and verification)"]' >"$WORK/replies.json"
  backend_args+=(--replies "$WORK/replies.json")
fi

summary=()
for entry in "${TARGETS[@]}"; do
  read -r spec target <<<"$entry"
  name="${spec%%==*}"
  "$PY" -m pip download --quiet --no-deps --no-binary :all: "$spec" -d "$WORK/dl" >/dev/null
  archive=$(ls "$WORK/dl/"*.tar.gz | grep -i "/$(echo "$name" | tr - _)-\|/$name-" | head -1)
  project="$WORK/projects/$name"
  rm -rf "$project" && mkdir -p "$project"
  tar --no-same-owner -xzf "$archive" -C "$project" --strip-components=1
  git -C "$project" init -q
  git -C "$project" add -A
  git -C "$project" -c user.name=afterburner -c user.email=afterburner@localhost commit -qm "$spec as released"
  echo "== $spec: $target" >&2
  status=0
  "$PY" -m afterburner optimize "$project/$target" "${backend_args[@]}" \
    --rounds "$ROUNDS" --candidates "$CANDIDATES" --runs-dir "$WORK/runs" --json \
    >"$WORK/$name.json" 2>"$WORK/$name.log" || status=$?
  grep -E "^(found|timing|every|skipped|one pass|[0-9]+ discovered)" "$WORK/$name.log" >&2 || true
  if [ "$status" = 0 ]; then
    line=$("$PY" - "$WORK/$name.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
lo, hi = r.get("speedup_ci") or [None, None]
sig = "significant" if r.get("improved") else "not significant"
print(f"{r['status']}: {r['speedup']:.2f}x (95% CI {lo:.2f}-{hi:.2f}, {sig})" if lo is not None else r["status"])
PYEOF
)
  else
    line="stopped: $(grep 'afterburner: error' "$WORK/$name.log" | head -1)"
  fi
  summary+=("$spec $target: $line")
done
echo
printf '%s\n' "${summary[@]}"
echo "work dir: $WORK"
