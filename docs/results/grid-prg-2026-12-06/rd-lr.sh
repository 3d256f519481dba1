#!/usr/bin/env bash
# RD at a smaller learning rate: the control for HyTuning's RD step under the split update, which
# runs at alpha * lr (alpha pinned at mix.alpha_max by the PRG rule: 0.9 in the grid, CAP in
# alpha-cap.sh). The grid's RD cell of seed SEED with post.lr = LR and nothing else changed
# (eval.before = false: the grid's cells skip the base's evaluation too). Arguments after
# THREADS go to a fresh run, e.g. `--set eval.max_items=1` for a dev-only control. Resumes from
# its last checkpoint: rerun it.
#   G=/work/exp/grid-real-prg rd-lr.sh LR SEED [THREADS] [--set KEY=VALUE ...]
set -u
G=${G:-/work/exp/grid-real-prg}
lr=${1:?learning rate, e.g. 7e-4}; s=${2:?seed}; out=${OUT:-/work/exp/rd-lr$lr}/s$s
if [ -f "$out/final.hyt" ]; then echo "$out: done"; exit 0; fi
last=$(ls "$out"/ckpt-1post-*.hyt 2>/dev/null | sort | tail -n 1)
if [ -n "$last" ]; then
  from=(--resume "$last" --out "$out")
else
  from=(--config "$G/cells/finance-n16-rd-s$s/config.toml" --data "$G/data/finance-n16"
    --out "$out" --set "post.lr=$lr" --set eval.before=false "${@:4}")
fi
RAYON_NUM_THREADS=${3:-1} ${H:-/work/main/target/release/hytune} train --headless --backend cpu \
  "${from[@]}"
