#!/usr/bin/env bash
# The next lever of issue 34, on dev: the PRG rule pins alpha at alpha_max (0.9) from step 1 once
# RD memorises its 16 traces, so RL runs at 0.1 rl_lr. A lower cap is a fixed alpha below 0.9
# with every other part of HyTuning as in the grid. This runs the grid's HyTuning cell (finance
# [2, 12], 16 labels, LoRA r16, bf16, 24 steps, floor 0.6, dev 200 every 8) with
# mix.alpha_max = CAP, seed SEED and post.reward = REWARD (consensus: HyTuning; format: its
# control, which every cap needs, since the format control gains as much as HyTuning at 0.9;
# random: the control that tells the KL's pull from the push toward answered responses).
# Compare dev accuracy at steps 8, 16, 24 with the grid's cap-0.9 cells of the same seed. Choose
# on dev only. Resumes from its last checkpoint: rerun it. Arguments after THREADS go to a fresh
# run's `hytune train`, e.g. `--set eval.max_items=1` for a dev-only sweep cell (the chosen cap's
# final.hyt is then evaluated with `hytune eval`).
#   G=/work/exp/grid-real-prg alpha-cap.sh CAP SEED [REWARD] [THREADS] [--set KEY=VALUE ...]
set -u
G=${G:-/work/exp/grid-real-prg}
cap=${1:?alpha_max, e.g. 0.7}; seed=${2:?seed, e.g. 1}; reward=${3:-consensus}
out=${OUT:-/work/exp/alpha-cap}/$reward-cap$cap-s$seed
if [ -f "$out/final.hyt" ]; then echo "$out: done"; exit 0; fi
last=$(ls "$out"/ckpt-1post-*.hyt 2>/dev/null | sort | tail -n 1)
if [ -n "$last" ]; then
  from=(--resume "$last" --out "$out")
else
  from=(--config "$G/cells/finance-n16-hytuning-s1/config.toml" --data "$G/data/finance-n16"
    --out "$out" --set "mix.alpha_max=$cap" --set "run.seed=$seed"
    --set "post.reward=\"$reward\"" --set eval.before=false "${@:5}")
fi
RAYON_NUM_THREADS=${4:-2} ${H:-/work/main/target/release/hytune} train --headless --backend cpu \
  "${from[@]}"
