#!/usr/bin/env bash
# Does consensus RL help on top of near-full RD? The floor grid's HyTuning cell of seed 1
# (finance [2, 12], 16 labels, LoRA r16, bf16, 24 steps, post.min_confidence = 0.6) with the
# PRG alpha rule and no held-out meter: RD trains on all 16 traces, and alpha (which the PRG rule
# pins near alpha_max once RD memorises its batch) scales RD to about 0.9 lr and RL to about
# 0.1 rl_lr.
#   G=/work/exp/grid-real-floor prg-floor.sh [THREADS]
set -u
G=${G:-/work/exp/grid-real-floor}
RAYON_NUM_THREADS=${1:-2} ${H:-/work/main/target/release/hytune} train --headless --backend cpu \
  --config $G/cells/finance-n16-hytuning-s1/config.toml --data $G/data/finance-n16 \
  --out /work/exp/prg-floor/s1 --set mix.heldout_labels=0 --set 'mix.alpha_rule="prg"'
