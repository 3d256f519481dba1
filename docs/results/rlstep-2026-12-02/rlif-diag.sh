#!/usr/bin/env bash
# RLIF alone on the default job (shipped base, dosage, eval n 200), 60 steps, each post.rl_step.
# Reads its metrics with show.py (alpha, reward, tied groups, entropy, KL, rl_scale, canary).
set -u
H=${H:-/work/main/target/release/hytune}
for m in always skip scaled; do
  $H train --headless --set mix.strategy=rlif --set post.steps=60 --set eval.every=10 --set eval.canary=64 \
    --set post.rl_step=$m --out /work/exp/rlif-$m > /work/exp/rlif-$m.log 2>&1
  tail -1 /work/exp/rlif-$m.log
  python3 "$(dirname "$0")/show.py" /work/exp/rlif-$m
done
# 300 steps, scaled (the default):
# $H train --headless --set mix.strategy=rlif --set post.steps=300 --set eval.every=50 --set eval.canary=64 --out /work/exp/rlif300
