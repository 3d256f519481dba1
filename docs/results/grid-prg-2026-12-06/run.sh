#!/usr/bin/env bash
# Issue 34, item 5 with every label in RD: the real-model grid of
# docs/results/grid-floor-2026-12-06/run.sh (SmolLM2-135M-Instruct, finance [2, 12], 16 labels,
# HyTuning, its format control and RD, seeds 1-3, RD on all 4,000 traces; LoRA r16, bf16 base,
# 24 steps, dev 200 every 8, eval 500; post.min_confidence = 0.6) with alpha from PRG
# (mix.alpha_rule = prg) instead of 4 held-out traces, so that RD trains on all 16 in every
# strategy. Chosen on dev by docs/results/grid-floor-2026-12-06/prg-floor.sh. The RD cells are
# the same runs as in the floor grid (neither key touches RD). Resumes: rerun it.
#   M=.../SmolLM2-135M-Instruct.Q4_1.gguf run.sh [OUT]
set -u
out=${1:-/work/exp/grid-real-prg}
RAYON_NUM_THREADS=${THREADS:-2} ${H:-/work/main/target/release/hytune} experiment --backend cpu \
  --model "${M:?the SmolLM2-135M-Instruct GGUF file}" --out "$out" "${@:2}" \
  --set 'experiment.suites=["finance"]' --set 'data.factor_range=[2, 12]' \
  --set 'experiment.labels=[16, 4000]' \
  --set 'experiment.strategies=["hytuning", "rd", "hytuning+format"]' \
  --set 'experiment.sweep=["rd"]' --set 'experiment.seeds=[1, 2, 3]' \
  --set 'mix.alpha_rule="prg"' --set post.min_confidence=0.6 \
  --set lora.rank=16 --set post.lr=1e-3 --set post.rl_lr=3e-3 --set post.micro_batch=4 \
  --set 'model.dtype="bf16"' --set post.steps=24 \
  --set eval.every=8 --set checkpoint.every=8 --set eval.canary_seconds=60 \
  --set data.eval_size=500 --set eval.max_items=500 --set data.dev_size=200 --set eval.dev_items=200
