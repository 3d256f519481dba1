#!/usr/bin/env bash
# Dev selection at 16 labels (dosage), from the shipped base: one candidate setting, seeds 1-3,
# 100 steps, dev n 300 at steps 50 and 100 (eval.jsonl only reported; the canary off to save time).
# Usage: sweep.sh NAME [--set ...]...   (writes /work/exp/NAME and /work/exp/NAME.log; resumes)
set -u
H=${H:-/work/main/target/release/hytune}
BASE=${BASE:-/work/main/assets/bases/base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt}
SEEDS=${SEEDS:-[1,2,3]}
common=(--base $BASE --set 'experiment.suites=["dosage"]' --set 'experiment.labels=[16]' --set "experiment.seeds=$SEEDS"
  --set 'experiment.strategies=["hytuning"]' --set post.steps=100 --set data.eval_size=1000 --set data.dev_size=300
  --set eval.every=50 --set eval.max_items=1000 --set eval.dev_items=300 --set checkpoint.every=50 --set eval.canary=0)
d=$1; shift
$H experiment --out /work/exp/$d "${common[@]}" "$@" > /work/exp/$d.log 2>&1
echo "$d done $(date +%T)"
