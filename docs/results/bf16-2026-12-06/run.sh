#!/usr/bin/env bash
# A frozen base in half precision (model.dtype): HyTuning defaults with LoRA r16 and
# micro-batches of 4 on the real SmolLM2-135M-Instruct, every step both passes, one run per
# dtype on a quiet machine (2 threads); then one LoRA step of the SmolLM2-1.7B shape in f32
# and in bf16 (../lora-2026-12-06/large.sh's small step).
# M=/path/SmolLM2-135M-Instruct.Q4_1.gguf docs/results/bf16-2026-12-06/run.sh [large]
set -u
here=$(cd "$(dirname "$0")" && pwd)
S=$here/../lora-2026-12-06/step.sh
for d in f32 bf16 f16; do
  [ -n "${1:-}" ] && break
  STEPS=${STEPS:-2} $S "dtype-$d" --set lora.rank=16 --set 'post.rl_step="always"' \
    --set post.micro_batch=4 --set "model.dtype=\"$d\"" | tee "$here/dtype-$d.txt"
done
if [ "${1:-}" = large ]; then
  H=${H:-target/release/hytune}
  W=${WORK:-/tmp/large}
  for d in bf16 f32; do
    rm -rf "$W/run-1.7b-$d"
    RAYON_NUM_THREADS=2 /usr/bin/time -f "peak RSS %M KB, %e s wall" "$H" train --headless --backend cpu \
      --model "$W/smollm2-1.7b" --suite dosage --out "$W/run-1.7b-$d" --set model.prompt=\"plain\" \
      --set model.max_len=128 --set data.too_long=\"skip\" --set post.steps=1 --set post.questions=2 --set post.votes=4 \
      --set post.group_size=4 --set post.max_new_tokens=16 --set post.rd_batch=4 \
      --set 'post.rl_step="always"' --set post.micro_batch=2 --set lora.rank=16 --set "model.dtype=\"$d\"" \
      --set eval.max_items=2 --set eval.dev_items=2 --set eval.canary=0 --set checkpoint.every=0 \
      > "$W/1.7b-$d.log" 2>&1
    grep -E "memory estimate|peak RSS|^error|post-training:|trainable" "$W/1.7b-$d.log" | sed "s/^/1.7b $d: /" | tee -a "$here/large.txt"
  done
fi
