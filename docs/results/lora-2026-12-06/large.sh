#!/usr/bin/env bash
# LoRA HyTuning on models of SmolLM2-1.7B's and Qwen2.5-1.5B's shapes (random weights from
# fixtures/make_random_model.py): one post-training step on this 24 GiB machine, peak RSS
# against the printed estimate. A small step (2 questions x 4 votes x 16 new tokens, 4 RD rows,
# context 128, micro-batches of 2 rows), since the point is memory, not speed.
# PY=/path/venv/bin/python docs/results/lora-2026-12-06/large.sh [smollm2-1.7b] [qwen2.5-1.5b]
set -u
H=${H:-target/release/hytune}
W=${WORK:-/tmp/large}
mkdir -p "$W"
for shape in ${@:-smollm2-1.7b qwen2.5-1.5b}; do
  dir=$W/$shape
  [ -f "$dir/config.json" ] || "${PY:-python3}" fixtures/make_random_model.py "$shape" "$dir"
  rm -rf "$W/run-$shape"
  RAYON_NUM_THREADS=2 /usr/bin/time -f "peak RSS %M KB, %e s wall" "$H" train --headless --backend cpu \
    --model "$dir" --suite dosage --out "$W/run-$shape" --set model.prompt=\"plain\" \
    --set model.max_len=128 --set data.too_long=\"skip\" --set post.steps=1 --set post.questions=2 --set post.votes=4 \
    --set post.group_size=4 --set post.max_new_tokens=16 --set post.rd_batch=4 \
    --set 'post.rl_step="always"' --set post.micro_batch=2 --set lora.rank=16 \
    --set eval.max_items=2 --set eval.dev_items=2 --set eval.canary=0 --set checkpoint.every=0 \
    > "$W/$shape.log" 2>&1
  grep -E "model |memory estimate|peak RSS|^error|post-training:" "$W/$shape.log" | sed "s/^/$shape: /"
done
