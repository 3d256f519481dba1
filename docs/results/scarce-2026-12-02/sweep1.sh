#!/usr/bin/env bash
# Dev selection at 16 labels (dosage): RD's lr, HyTuning's RL lr, update mode, reward controls.
set -u
H=/work/main/target/release/hytune.sweep
BASE=/tmp/hb/base.hyt
common=(--base $BASE --set 'experiment.suites=["dosage"]' --set 'experiment.labels=[16]' --set 'experiment.seeds=[1,2]'
  --set post.steps=60 --set data.eval_size=1000 --set data.dev_size=300 --set eval.every=20 --set eval.max_items=1000
  --set eval.dev_items=300 --set checkpoint.every=20 --set eval.canary=64)
run() { d=$1; shift; $H experiment --out /work/exp/$d "${common[@]}" "$@" > /work/exp/$d.log 2>&1; echo "$d done $(date +%T)"; }
run s-main --set 'experiment.strategies=["rd","hytuning","hytuning+random","hytuning+self_certainty"]'
run s-rd-lr2.5e-4 --set 'experiment.strategies=["rd"]' --set post.lr=2.5e-4
run s-rd-lr1e-4 --set 'experiment.strategies=["rd"]' --set post.lr=1e-4
run s-joint --set 'experiment.strategies=["hytuning","hytuning+self_certainty"]' --set 'post.update="joint"'
run s-rl2e-4 --set 'experiment.strategies=["hytuning","rlif"]' --set post.rl_lr=2e-4
run s-rl5e-4 --set 'experiment.strategies=["hytuning","rlif"]' --set post.rl_lr=5e-4
