#!/usr/bin/env bash
# Issue 33's training terms, chosen on dev: HyTuning at 8 labels on dosage (seeds 1-3, the data
# and settings of run.sh) with
#   lr2     post.labeled_rollouts=2 (the control: labeled rollouts without a calibration term)
#   brier   post.labeled_rollouts=2, post.brier_weight=0.5 (RLCR's term, its weight)
#   vote    post.vote_brier=0.5 (the label-free vote-share term)
#   vote2   post.vote_brier=2 (the same, four times the weight)
# Usage: [S=finance] terms.sh NAME   (writes /work/exp/faith-SUITE-8-NAME; resumes: rerun it)
set -u
H=${H:-/work/main/target/release/hytune}
BASE=${BASE:-/work/main/assets/bases/base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt}
N=$1
S=${S:-dosage}
case $N in
  lr2) extra=(--set post.labeled_rollouts=2) ;;
  brier) extra=(--set post.labeled_rollouts=2 --set post.brier_weight=0.5) ;;
  vote) extra=(--set post.vote_brier=0.5) ;;
  vote2) extra=(--set post.vote_brier=2) ;;
  *) echo "unknown variant $N"; exit 2 ;;
esac
$H experiment --out /work/exp/faith-$S-8-$N --base $BASE --set post.steps=100 --set data.eval_size=1000 \
  --set data.dev_size=500 --set eval.every=0 --set eval.max_items=1000 --set eval.dev_items=500 \
  --set checkpoint.every=50 --set eval.canary=0 --set "experiment.suites=[\"$S\"]" \
  --set 'experiment.labels=[8]' --set 'experiment.strategies=["hytuning"]' \
  --set 'experiment.seeds=[1,2,3]' "${extra[@]}" >> /work/exp/faith-$S-8-$N.log 2>&1
echo "faith-$S-8-$N done $(date +%T)"
