#!/usr/bin/env bash
# Issue 34 pilot: HyTuning on finance at data.factor_range [2, 12] (the competence map's choice),
# 16 labels, LoRA r16 (lr 1e-3, rl_lr 3e-3), micro-batches of 4, 24 steps, dev (100 items) every
# 8 steps; the real SmolLM2-135M-Instruct, 2 threads.   Usage: pilot.sh hytuning|rd [--headless]
set -u
s=$1; shift
RAYON_NUM_THREADS=2 ${H:-/work/main/target/release/hytune} train "$@" --backend cpu \
  --model ${M:?SmolLM2-135M-Instruct.Q4_1.gguf} --suite finance \
  --out /work/exp/pilot/$s --set mix.strategy=$s --set "data.factor_range=[2, 12]" \
  --set post.steps=24 --set lora.rank=16 --set post.lr=1e-3 --set post.rl_lr=3e-3 \
  --set post.micro_batch=4 --set eval.every=8 --set eval.dev_items=100 --set eval.max_items=100 \
  --set checkpoint.every=8
