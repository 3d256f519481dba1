#!/usr/bin/env bash
# Eval 500 of a dev-only sweep cell's final model (alpha-cap.sh ... --set eval.max_items=1), once
# its cap was chosen on dev: the report the grid's cells write at their end, into RUN/eval/
# (predictions-eval-post-0000024.jsonl, which paired.py reads as RUN/eval, and summary.json).
#   G=/work/exp/grid-real-prg eval-final.sh RUN [THREADS]
set -eu
G=${G:-/work/exp/grid-real-prg}
run=${1:?a run folder with final.hyt}
mkdir -p "$run/eval"
RAYON_NUM_THREADS=${2:-2} ${H:-/work/main/target/release/hytune} eval --backend cpu \
  --checkpoint "$run/final.hyt" --data "$G/data/finance-n16" \
  --predictions "$run/eval/predictions-eval-post-0000024.jsonl" --json > "$run/eval/summary.json"
