#!/usr/bin/env bash
# Does LoRA learn on the default job? HyTuning on dosage (the shipped byte-GPT base, 16 labeled
# traces, 100 steps), full fine-tuning at its defaults (chosen on dev earlier) against LoRA
# rank 16 (alpha 32) at 1x, 3x, 10x and 30x those learning rates (SEEDS, default 1); dev
# accuracy (200 dev items) at the last step. Every run post-trains the shipped base (as the grids
# do: one base for every seed). Learning rates are chosen on dev only.
# docs/results/lora-2026-12-06/default-job.sh   (output: default-job.txt)
set -u
H=${H:-target/release/hytune}
W=${WORK:-/tmp/defjob}
BASE=${BASE:-assets/bases/base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt}
mkdir -p "$W"
run() { # name seed sets...
  local name=$1 seed=$2; shift 2
  local out=$W/$name-s$seed
  [ -f "$out/final.hyt" ] || { rm -rf "$out"; RAYON_NUM_THREADS=2 "$H" train --headless --backend cpu \
    --suite dosage --base "$BASE" --out "$out" --set run.seed=$seed --set eval.dev_items=200 --set eval.canary=0 \
    --set checkpoint.every=0 "$@" > "$W/$name-s$seed.log" 2>&1; }
  python3 - "$out" "$name" "$seed" <<'PY'
import glob, json, sys
out, name, seed = sys.argv[1:]
devs = sorted(glob.glob(out + "/dev-post-*.json"))
last = json.load(open(devs[-1]))
print(f"{name:12s} seed {seed}: dev accuracy at step {last['step']}: {last['accuracy']:.3f} (n {last['n']}), Brier {last['brier']:.3f}")
PY
}
# SEEDS and X (the multiples) narrow the runs: SEEDS=2 X=10 docs/.../default-job.sh
for seed in ${SEEDS:-1}; do
  run full "$seed"
  for x in ${X:-1 3 10 30}; do
    run "lora-x$x" "$seed" --set lora.rank=16 --set post.lr=$(python3 -c "print(1e-4*$x)") \
      --set post.rl_lr=$(python3 -c "print(3e-4*$x)")
  done
done
