#!/usr/bin/env bash
# The main table of issue 23 at 16 labels (the count chosen on dev, docs/method.md): one suite
# (dosage or finance), the five strategies and the two reward controls, seeds 1-5, eval n 1000,
# dev n 300, 100 steps from the shipped base, RD on all 4,000 labels beside them. Defaults as
# shipped (consensus reward, post.rl_step = scaled, post.lr 1e-4, post.rl_lr 3e-4). Evaluated at
# the end only (the canary's course is in docs/results/rlstep-2026-12-02). Resumes: rerun it.
# Usage: grid.sh SUITE   (writes /work/exp/final-SUITE and /work/exp/final-SUITE.log)
set -u
H=${H:-/work/main/target/release/hytune}
BASE=${BASE:-/work/main/assets/bases/base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt}
S=$1
$H experiment --out /work/exp/final-$S --base $BASE \
  --set "experiment.suites=[\"$S\"]" --set 'experiment.labels=[16, 4000]' \
  --set 'experiment.strategies=["hytuning","rd","hytuning+random","hytuning+format","rlif","fixed","schedule"]' \
  --set 'experiment.sweep=["rd"]' --set 'experiment.seeds=[1,2,3,4,5]' \
  --set post.steps=100 --set data.eval_size=1000 --set data.dev_size=300 --set eval.every=0 \
  --set eval.max_items=1000 --set eval.dev_items=300 --set checkpoint.every=50 --set eval.canary=0 \
  > /work/exp/final-$S.log 2>&1
echo "final-$S done $(date +%T)"
