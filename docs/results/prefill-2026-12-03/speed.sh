#!/bin/bash
cd /work/main
for round in 1 2; do
  echo "== round $round: PyTorch (transformers) twin"
  RAYON_NUM_THREADS=2 timeout 600 /tmp/venv/bin/python bench/hf_twin.py /tmp/smolhf --threads 2 --rows 8 --cols 64 --gen-batch 8 --prompt 38 --new 64 2>&1 | grep -v Warning | tail -4
  echo "== round $round: hytune"
  RAYON_NUM_THREADS=2 timeout 600 ${H:-target/release/hytune} bench --backend cpu --model /tmp/smolhf --rows 8 --cols 64 --gen-batch 8 --repeats 3 --warmup 1 --set model.max_len=104 --set model.prompt='"plain"' 2>&1 | tail -6
done
