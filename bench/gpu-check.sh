#!/usr/bin/env bash
# One prepared GPU check, for a machine with a GPU, CUDA PyTorch and no network (optional; not
# used by CI). Build here, strip and compress each binary to compare (a stripped release binary
# is ~66 MB, ~11 MB as .xz), carry them, then run from the repository root there:
#
#     cargo build --release && strip -o gpu-bin/hytune target/release/hytune
#     cargo build --release --features wgpu-tuned && strip -o gpu-bin/hytune-tuned target/release/hytune
#     xz -T0 gpu-bin/hytune gpu-bin/hytune-tuned
#     # on the GPU machine:
#     bench/gpu-check.sh gpu-bin/hytune.xz gpu-bin/hytune-tuned.xz   # writes $OUT/gpu-check.txt
#
# For each binary: the first wgpu call's time (kernel compilation), `bench/compare` against the
# PyTorch twin on CUDA (eager and fused attention), the HyTuning step split, and a model of
# SmolLM2-135M's shape (random weights, made there by fixtures/make_random_model.py) against
# bench/hf_twin.py on CUDA. Every command has its own time limit, so one hang costs little.
set -uo pipefail
OUT_FILE=${OUT:-.}/gpu-check.txt
PY=${PYTHON:-python3}
LIMIT=${LIMIT:-150}
log() { echo "$*" | tee -a "$OUT_FILE"; }
run() { log "\$ $*"; local t0; t0=$(date +%s.%N); timeout "$LIMIT" "$@" 2>&1 | tee -a "$OUT_FILE";
        log "($(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s, exit ${PIPESTATUS[0]})"; }
: > "$OUT_FILE"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee -a "$OUT_FILE"
log "cpu cores: $(nproc)"
bins=()
for b in "$@"; do
  case "$b" in
    *.xz) xz -dc "$b" > "/tmp/$(basename "$b" .xz)" && chmod +x "/tmp/$(basename "$b" .xz)" && bins+=("/tmp/$(basename "$b" .xz)") ;;
    *) bins+=("$b") ;;
  esac
done
[ ${#bins[@]} -gt 0 ] || bins=(target/release/hytune)
SMOL=/tmp/smollm2-135m-random
# Most important first: a run cut short by its time limit still leaves the early figures.
for bin in "${bins[@]}"; do
  log "=== $bin: first call (kernel compilation), then the default model against the twin"
  run "$bin" bench --backend wgpu --repeats 1 --warmup 0 --rows 2 --cols 8 --gen-batch 2
  run "$PY" bench/compare --python "$PY" --hytune "$bin" --backend wgpu --device cuda --threads 8 --repeats 10 --sdpa
done
for bin in "${bins[@]}"; do
  log "=== $bin: HyTuning step"
  run "$bin" bench --backend wgpu --hytuning --repeats 2 --warmup 1
done
for bin in "${bins[@]}"; do
  for mode in off pow2; do
    log "=== $bin: 30 HyTuning steps, run.shape_buckets=$mode (step time, distinct shapes)"
    dir=/tmp/shapes-$(basename "$bin")-$mode
    rm -rf "$dir"
    run "$bin" train --headless --backend wgpu --out "$dir" --set post.steps=30 --set eval.every=0 \
        --set eval.max_items=64 --set eval.dev_items=64 --set eval.canary=0 \
        --set "run.shape_buckets=\"$mode\""
    "$PY" - "$dir/metrics.jsonl" <<'PYEOF' 2>&1 | tee -a "$OUT_FILE"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"post"' in l]
t = [r["step_seconds"] for r in rows[1:]]
print("steps", len(rows), "median step s %.3f" % statistics.median(t) if t else "",
      "shapes at 1/10/30:", [rows[i - 1].get("shapes") for i in (1, 10, 30) if i <= len(rows)])
PYEOF
  done
done
run "$PY" fixtures/make_random_model.py smollm2-135m "$SMOL"
run "$PY" bench/hf_twin.py "$SMOL" --device cuda --rows 8 --cols 64 --gen-batch 8 --prompt 38 --new 66
for bin in "${bins[@]}"; do
  log "=== $bin: SmolLM2-135M shape"
  run "$bin" bench --backend wgpu --model "$SMOL" --rows 8 --cols 64 --gen-batch 8 --repeats 3 \
      --warmup 1 --set model.max_len=104
done
log "done"
