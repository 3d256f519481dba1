#!/usr/bin/env bash
# One prepared GPU check, for a machine with a GPU and no network (optional; not used by CI).
# Build here, strip, and carry the binary (the release binary is ~90 MB, stripped ~66 MB):
#
#     cargo build --release && mkdir -p gpu-bin && strip -o gpu-bin/hytune target/release/hytune
#     # then, on the GPU machine, from the repository root:
#     bench/gpu-check.sh gpu-bin/hytune        # writes $OUT/gpu-check.txt (or ./gpu-check.txt)
#
# It times `hytune bench` on wgpu (the first call includes kernel compilation), the HyTuning
# step split, a pretrained-model fixture on wgpu, and, when a Python with CUDA torch is there,
# the PyTorch twin on CUDA for the ratio.
set -uo pipefail
BIN=${1:-target/release/hytune}
OUT_FILE=${OUT:-.}/gpu-check.txt
run() { echo "\$ $*" | tee -a "$OUT_FILE"; "$@" 2>&1 | tee -a "$OUT_FILE"; }
: > "$OUT_FILE"
nvidia-smi --query-gpu=name,memory.total --format=csv 2>&1 | tee -a "$OUT_FILE"
start=$(date +%s.%N)
run "$BIN" bench --backend wgpu --repeats 1 --warmup 0 --rows 2 --cols 8
echo "first wgpu bench (kernel compilation included): $(awk "BEGIN{print $(date +%s.%N) - $start}") s" | tee -a "$OUT_FILE"
run "$BIN" bench --backend wgpu --json
run "$BIN" bench --backend wgpu --hytuning --repeats 3 --warmup 1
run "$BIN" bench --backend wgpu --model tests/fixtures/hf/qwen3 --repeats 3 --warmup 1 --rows 4 --cols 32 --gen-batch 4 --set model.max_len=96
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  run python3 bench/torch_twin.py --device cuda
  run python3 bench/torch_twin.py --device cuda --sdpa
else
  echo "no Python with CUDA torch here: twin skipped" | tee -a "$OUT_FILE"
fi
