#!/usr/bin/env bash
# RLIF alone and the two other mixings (fixed alpha 0.5, the alpha schedule) at 16 labels, seeds
# 1-3 (SEEDS=[1,2,3,4,5] OUT=others5: five), the same settings as main.sh; cells an earlier
# run already finished are copied in first:
# `others.sh SUITE /work/exp/final-SUITE`. Resumes: rerun it.
set -u
H=${H:-/work/main/target/release/hytune}
BASE=${BASE:-/work/main/assets/bases/base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt}
S=$1; FROM=${2:-}
args=(--base $BASE --set post.steps=100 --set data.eval_size=1000 --set data.dev_size=300
  --set eval.every=0 --set eval.max_items=1000 --set eval.dev_items=300 --set checkpoint.every=50
  --set eval.canary=0 --set "experiment.suites=[\"$S\"]" --set 'experiment.labels=[16]'
  --set 'experiment.strategies=["rlif","fixed","schedule"]' --set "experiment.seeds=${SEEDS:-[1,2,3]}")
O=/work/exp/${OUT:-others}-$S
if [ -n "$FROM" ] && [ ! -d $O ]; then
  $H experiment --out $O "${args[@]}" --prepare > $O.log 2>&1
  mkdir -p $O/cells
  for c in "$FROM"/cells/*; do
    n=$(basename $c)
    case $n in *-rlif-s*|*-fixed-s*|*-schedule-s*)
      [ -f $c/done.json ] && cp -r $c $O/cells/$n ;;
    esac
  done
fi
$H experiment --out $O "${args[@]}" >> $O.log 2>&1
echo "others-$S done $(date +%T)"
