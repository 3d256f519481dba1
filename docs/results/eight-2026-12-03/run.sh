#!/usr/bin/env bash
# Issue 23 at the label count where RD(n) is at least 10 points below RD(all): 8 labeled traces
# (the label-count sweep, docs/method.md: RD(8) 0.565 eval / 0.557 dev against RD(all) 0.679 /
# 0.652). HyTuning, RD and the two reward controls on dosage, five seeds (seed outer, so a
# partial grid is balanced), eval n 1000, dev n 300, 100 steps from the shipped base, defaults as
# shipped; the same settings as ../final-2026-12-03/main.sh but for the label count.
# Usage: run.sh [SUITE]   (writes /work/exp/eight-SUITE; resumes: rerun it)
set -u
H=${H:-/work/main/target/release/hytune}
BASE=${BASE:-/work/main/assets/bases/base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt}
S=${1:-dosage}
$H experiment --out /work/exp/eight-$S --base $BASE --set post.steps=100 --set data.eval_size=1000 \
  --set data.dev_size=300 --set eval.every=0 --set eval.max_items=1000 --set eval.dev_items=300 \
  --set checkpoint.every=50 --set eval.canary=0 --set "experiment.suites=[\"$S\"]" \
  --set 'experiment.labels=[8]' \
  --set 'experiment.strategies=["hytuning","rd","hytuning+random","hytuning+format"]' \
  --set 'experiment.seeds=[1,2,3,4,5]' >> /work/exp/eight-$S.log 2>&1
echo "eight-$S done $(date +%T)"
