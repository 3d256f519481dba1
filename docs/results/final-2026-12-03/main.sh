#!/usr/bin/env bash
# The main comparison of issue 23 at 16 labels, five seeds: HyTuning, RD and the two reward
# controls on one suite (eval n 1000, dev n 300, 100 steps from the shipped base, defaults as
# shipped), evaluated at the end. Cells that grid.sh already finished are the same runs (same
# cell config, same data) and may be copied in first: `main.sh SUITE /work/exp/final-SUITE`.
# Then RD on all 4,000 labels (seeds 1-3): `main.sh SUITE-all`. Resumes: rerun it.
set -u
H=${H:-/work/main/target/release/hytune}
BASE=${BASE:-/work/main/assets/bases/base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt}
S=$1; FROM=${2:-}
common=(--base $BASE --set post.steps=100 --set data.eval_size=1000 --set data.dev_size=300
  --set eval.every=0 --set eval.max_items=1000 --set eval.dev_items=300 --set checkpoint.every=50
  --set eval.canary=0)
case $S in
  *-all)
    $H experiment --out /work/exp/main-$S "${common[@]}" --set "experiment.suites=[\"${S%-all}\"]" \
      --set 'experiment.labels=[4000]' --set 'experiment.strategies=["rd"]' --set 'experiment.seeds=[1,2,3]' \
      > /work/exp/main-$S.log 2>&1 ;;
  *)
    args=("${common[@]}" --set "experiment.suites=[\"$S\"]" --set 'experiment.labels=[16]'
      --set 'experiment.strategies=["hytuning","rd","hytuning+random","hytuning+format"]'
      --set 'experiment.seeds=[1,2,3,4,5]')
    if [ -n "$FROM" ] && [ ! -d /work/exp/main-$S ]; then
      $H experiment --out /work/exp/main-$S "${args[@]}" --prepare > /work/exp/main-$S.log 2>&1
      mkdir -p /work/exp/main-$S/cells
      for c in "$FROM"/cells/*; do
        n=$(basename $c)
        case $n in *-hytuning-s*|*-rd-s*|*-hytuning+random-s*|*-hytuning+format-s*)
          [ -f $c/done.json ] && cp -r $c /work/exp/main-$S/cells/$n ;;
        esac
      done
    fi
    $H experiment --out /work/exp/main-$S "${args[@]}" >> /work/exp/main-$S.log 2>&1 ;;
esac
echo "main-$S done $(date +%T)"
