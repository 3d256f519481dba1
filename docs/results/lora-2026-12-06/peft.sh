#!/usr/bin/env bash
# PEFT reads hytune's adapters: a few LoRA HyTuning steps on each Hugging Face fixture (rank 4;
# rsLoRA on all but SmolLM2), `export --format peft`, then fixtures/check_peft.py loads the base
# with transformers, the adapter with PeftModel.from_pretrained, and compares logits.
# PY=/path/venv/bin/python docs/results/lora-2026-12-06/peft.sh   (output: peft.txt)
set -eu
R=$(cd "$(dirname "$0")/../../.." && pwd); H=$R/target/release/hytune; CFG=$R/assets/configs/tiny.toml
W=${WORK:-/tmp/peft}; mkdir -p "$W"; cd "$W"
[ -d D ] || $H data gen --config $CFG --suite dosage --out D --seed 7 >/dev/null
for f in smollm2 qwen2 qwen3 llama; do
  M=$R/tests/fixtures/hf/$f; rs=$([ $f = smollm2 ] && echo false || echo true)
  rm -rf R-$f P-$f
  $H train --headless --backend cpu --config $CFG --model $M --data D --out R-$f --set model.max_len=256 \
    --set post.steps=4 --set 'mix.strategy="hytuning"' --set lora.rank=4 --set lora.alpha=8 \
    --set lora.rslora=$rs --set post.lr=1e-2 > train-$f.log 2>&1
  $H export --checkpoint R-$f/final.hyt --format peft --out P-$f > /dev/null
  (cd $R && cargo run --release -q --example logits -- "$W/R-$f/final.hyt" "Q: A patient weighs 23 kg?\n") > h-$f.json
  "${PY:-python3}" $R/fixtures/check_peft.py $M P-$f h-$f.json 2>/dev/null
done
