#!/usr/bin/env bash
# Dev selection at 16 labels (dosage), RD at a dev-chosen lr: does RL add to a tuned RD?
set -u
H=/work/main/target/release/hytune.sweep
BASE=/tmp/hb/base.hyt
common=(--base $BASE --set 'experiment.suites=["dosage"]' --set 'experiment.labels=[16]'
  --set post.steps=100 --set data.eval_size=1000 --set data.dev_size=300 --set eval.every=20 --set eval.max_items=1000
  --set eval.dev_items=300 --set checkpoint.every=20 --set eval.canary=64)
run() { d=$1; shift; $H experiment --out /work/exp/$d "${common[@]}" "$@" > /work/exp/$d.log 2>&1; echo "$d done $(date +%T)"; }
run t-rd-lr1e-4 --set 'experiment.strategies=["rd"]' --set 'experiment.seeds=[1]' --set post.lr=1e-4
run t-rd-lr5e-5 --set 'experiment.strategies=["rd"]' --set 'experiment.seeds=[1]' --set post.lr=5e-5
run t-hy-rl1e-3 --set 'experiment.strategies=["hytuning","hytuning+random"]' --set 'experiment.seeds=[1,2]' --set post.lr=1e-4 --set post.rl_lr=1e-3
run t-hy-rl3e-4 --set 'experiment.strategies=["hytuning"]' --set 'experiment.seeds=[1,2]' --set post.lr=1e-4 --set post.rl_lr=3e-4
