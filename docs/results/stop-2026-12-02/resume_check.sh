#!/bin/bash
# The default job: 30 post-training steps uninterrupted, against SIGTERM mid-step then --resume.
B=/work/main/target/release/hytune
export XDG_DATA_HOME=/tmp/rc/xdg XDG_CONFIG_HOME=/tmp/rc/xdg
rm -rf /tmp/rc; mkdir -p /tmp/rc; cd /tmp/rc
S=(--set post.steps=30 --set eval.every=10 --set eval.max_items=64 --set eval.dev_items=64)
$B train --headless --backend cpu --out /tmp/rc/full "${S[@]}" 2>/dev/null
python3 "$(dirname "$0")"/sigterm.py $B /tmp/rc/cut 12 0.3 "${S[@]}"
ck=$(ls /tmp/rc/cut/ckpt-1post-*.hyt | tail -1)
$B train --headless --backend cpu --resume $ck --out /tmp/rc/resumed 2>/dev/null
python3 - <<'PY'
import json
def load(p):
    return {r["step"]: (r["loss_total"], r.get("loss_rd"), r.get("loss_rlif"), r.get("alpha"), r.get("prg_policy"), r.get("kl_ref"))
            for r in map(json.loads, open(p)) if r["phase"] == "post"}
full, res = load("/tmp/rc/full/metrics.jsonl"), load("/tmp/rc/resumed/metrics.jsonl")
same = [s for s in res if res[s] == full[s]]
print(f"resumed steps {min(res)}..{max(res)}: {len(same)} of {len(res)} identical to the uninterrupted run (loss, rd, rlif, alpha, PRG, KL)")
a = json.load(open("/tmp/rc/full/eval-post-0000030.json")); b = json.load(open("/tmp/rc/resumed/eval-post-0000030.json"))
print("final eval equal:", a == b, {k: a[k] for k in ("accuracy", "ece", "brier")})
PY
