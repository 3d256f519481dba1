#!/usr/bin/env bash
# Issue 34, item 5: the grid on the real SmolLM2-135M-Instruct at the competence map's choice
# (finance, data.factor_range [2, 12]), 16 labels; HyTuning with alpha following 4 held-out
# labeled traces (mix.alpha_rule = heldout), its format-reward control and RD, seeds 1-3; RD on
# all 4,000 traces beside them. LoRA r16 (lr 1e-3, rl_lr 3e-3), bf16 base, micro-batches of 4,
# 24 steps, dev 200 every 8 steps, eval 500; 2 threads. Resumes: rerun the same command.
#   M=.../SmolLM2-135M-Instruct.Q4_1.gguf run.sh [OUT]
set -u
out=${1:-/work/exp/grid-real}
RAYON_NUM_THREADS=2 ${H:-/work/main/target/release/hytune} experiment --backend cpu \
  --model "${M:?the SmolLM2-135M-Instruct GGUF file}" --out "$out" \
  --set 'experiment.suites=["finance"]' --set 'data.factor_range=[2, 12]' \
  --set 'experiment.labels=[16, 4000]' \
  --set 'experiment.strategies=["hytuning", "rd", "hytuning+format"]' \
  --set 'experiment.sweep=["rd"]' --set 'experiment.seeds=[1, 2, 3]' \
  --set mix.heldout_labels=4 --set 'mix.alpha_rule="heldout"' \
  --set lora.rank=16 --set post.lr=1e-3 --set post.rl_lr=3e-3 --set post.micro_batch=4 \
  --set 'model.dtype="bf16"' --set post.steps=24 \
  --set eval.every=8 --set checkpoint.every=8 --set eval.canary_seconds=60 \
  --set data.eval_size=500 --set eval.max_items=500 --set data.dev_size=200 --set eval.dev_items=200
