#!/usr/bin/env bash
# The control that asks whether HyTuning's gain over RD is its RD step's learning rate: under
# the split update HyTuning's RD steps at alpha * lr, and the PRG rule pins alpha at 0.9, so its
# RD runs at 0.9 lr where RD runs at lr. This is the grid's RD cell of seed SEED with
# post.lr = 9e-4 and nothing else changed (eval.before = false: the grid's cells skip the base's
# evaluation too). Resumes from its last checkpoint: rerun it.
#   G=/work/exp/grid-real-prg rd-lr09.sh SEED [THREADS]
set -u
G=${G:-/work/exp/grid-real-prg}
s=${1:?seed}; out=${OUT:-/work/exp/rd-lr09}/s$s
if [ -f "$out/final.hyt" ]; then echo "$out: done"; exit 0; fi
last=$(ls "$out"/ckpt-1post-*.hyt 2>/dev/null | sort | tail -n 1)
if [ -n "$last" ]; then
  from=(--resume "$last" --out "$out")
else
  from=(--config "$G/cells/finance-n16-rd-s$s/config.toml" --data "$G/data/finance-n16"
    --out "$out" --set post.lr=9e-4 --set eval.before=false)
fi
RAYON_NUM_THREADS=${2:-1} ${H:-/work/main/target/release/hytune} train --headless --backend cpu \
  "${from[@]}"
