#!/usr/bin/env bash
# Control for the held-out meter's label cost: RD exactly as the grid's cell finance-n16-rd-s1,
# but on the 12 labeled traces HyTuning's RD trains on (mix.heldout_labels = 4 keeps the last 4
# out). The data folder is the grid's finance-n16 with labeled.jsonl cut to its first 12 lines.
#   G=/work/exp/grid-real-floor rd12.sh [THREADS]
set -u
G=${G:-/work/exp/grid-real-floor}
D=/work/exp/rd12/data/finance-n12
mkdir -p $D
cp $G/data/finance-n16/{dev,eval,unlabeled}.jsonl $D/
head -12 $G/data/finance-n16/labeled.jsonl > $D/labeled.jsonl
RAYON_NUM_THREADS=${1:-2} ${H:-/work/main/target/release/hytune} train --headless --backend cpu \
  --config $G/cells/finance-n16-rd-s1/config.toml --data $D --out /work/exp/rd12/rd12-s1
