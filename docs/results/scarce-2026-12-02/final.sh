#!/usr/bin/env bash
# The main grid at 16 labels with the dev-chosen settings (post.lr 1e-4, post.rl_lr 3e-4, 100 steps).
set -u
H=/work/main/target/release/hytune.final
BASE=/tmp/hb/base.hyt
common=(--base $BASE --set post.steps=100 --set data.eval_size=1000 --set data.dev_size=300 --set eval.every=20
  --set eval.max_items=1000 --set eval.dev_items=300 --set checkpoint.every=20 --set eval.canary=64
  --set post.lr=1e-4 --set post.rl_lr=3e-4)
run() { d=$1; shift; $H experiment --out /work/exp/$d "${common[@]}" "$@" > /work/exp/$d.log 2>&1; echo "$d done $(date +%T)"; }
run main-dosage --set 'experiment.suites=["dosage"]' --set 'experiment.labels=[16, 8, 32, 64, 4000]' \
  --set 'experiment.strategies=["rd","rlif","fixed","schedule","hytuning","hytuning+random","hytuning+format"]' \
  --set 'experiment.sweep=["rd"]' --set 'experiment.seeds=[1,2,3]'
run main-finance --set 'experiment.suites=["finance"]' --set 'experiment.labels=[16, 4000]' \
  --set 'experiment.strategies=["rd","rlif","hytuning","hytuning+random"]' \
  --set 'experiment.sweep=["rd"]' --set 'experiment.seeds=[1,2]'
