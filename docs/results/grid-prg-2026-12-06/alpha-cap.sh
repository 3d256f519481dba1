#!/usr/bin/env bash
# The next lever of issue 34, on dev: the PRG rule pins alpha at alpha_max (0.9) from step 1 once
# RD memorises its 16 traces, so RL runs at 0.1 rl_lr. A lower cap is a fixed alpha below 0.9
# with every other part of HyTuning as in the grid. This runs the grid's HyTuning cell (finance
# [2, 12], 16 labels, LoRA r16, bf16, 24 steps, floor 0.6, dev 200 every 8) with
# mix.alpha_max = CAP and seed SEED; compare its dev accuracy at steps 8, 16, 24 with the grid's
# cap-0.9 cell of the same seed. Choose on dev only. Resumes from its last checkpoint: rerun it.
#   G=/work/exp/grid-real-prg alpha-cap.sh CAP SEED [THREADS]
set -u
G=${G:-/work/exp/grid-real-prg}
cap=${1:?alpha_max, e.g. 0.7}; seed=${2:?seed, e.g. 1}
out=${OUT:-/work/exp/alpha-cap}/cap$cap-s$seed
last=$(ls "$out"/ckpt-1post-*.hyt 2>/dev/null | sort | tail -n 1)
if [ -f "$out/final.hyt" ]; then echo "$out: done"; exit 0; fi
if [ -n "$last" ]; then
  from=(--resume "$last" --out "$out")
else
  from=(--config "$G/cells/finance-n16-hytuning-s1/config.toml" --data "$G/data/finance-n16"
    --out "$out" --set "mix.alpha_max=$cap" --set "run.seed=$seed" --set eval.before=false)
fi
RAYON_NUM_THREADS=${3:-2} ${H:-/work/main/target/release/hytune} train --headless --backend cpu \
  "${from[@]}"
