#!/usr/bin/env bash
# Issue 34, item 3 in training: HyTuning exactly as the real-model grid's cell
# finance-n16-hytuning-s1 (docs/results/grid-real-2026-12-06/run.sh: finance [2, 12], 16 labels,
# 4 held out for alpha_rule = heldout, LoRA r16, bf16 base, 24 steps, dev 200 every 8, eval 500),
# plus a floor on the majority votes' mean response confidence, post.min_confidence = 0.6
# (chosen on dev by floors.py). Reads the grid's cell config and dataset. 2 threads.
#   G=/work/exp/grid-real pilot.sh [FLOOR]
set -u
G=${G:-/work/exp/grid-real}
f=${1:-0.6}
RAYON_NUM_THREADS=2 ${H:-/work/main/target/release/hytune} train --headless --backend cpu \
  --config $G/cells/finance-n16-hytuning-s1/config.toml --data $G/data/finance-n16 \
  --out /work/exp/reward-pilot/floor-$f --set post.min_confidence=$f
