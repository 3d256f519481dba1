#!/usr/bin/env bash
# Issue 33's grid: HyTuning and RD on dosage and finance at 8 and 16 labels, five seeds (seed
# outer, so a partial grid is balanced), eval n 1000, dev n 500 (the split temperature scaling,
# the calibrators and the certificate are fitted on), 100 steps from the shipped base, defaults
# as shipped (the settings of ../eight-2026-12-03/run.sh but for dev's size).
# Usage: run.sh SUITE LABELS   (writes /work/exp/faith-SUITE-LABELS; resumes: rerun it)
set -u
H=${H:-/work/main/target/release/hytune}
BASE=${BASE:-/work/main/assets/bases/base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt}
S=$1; L=$2; shift 2
$H experiment --out /work/exp/faith-$S-$L --base $BASE --set post.steps=100 --set data.eval_size=1000 \
  --set data.dev_size=500 --set eval.every=0 --set eval.max_items=1000 --set eval.dev_items=500 \
  --set checkpoint.every=50 --set eval.canary=0 --set "experiment.suites=[\"$S\"]" \
  --set "experiment.labels=[$L]" \
  --set 'experiment.strategies=["hytuning","rd"]' \
  --set 'experiment.seeds=[1,2,3,4,5]' "$@" >> /work/exp/faith-$S-$L.log 2>&1
echo "faith-$S-$L done $(date +%T)"
