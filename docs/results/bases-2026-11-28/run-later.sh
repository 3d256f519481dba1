#!/bin/bash
# Base recipes over run seeds: pretrain, then 60 RD steps at 5% labels; 200 dev items before and after.
BIN=${BIN:-$PWD/target/release/hytune}  # built at commit fbbf928 (the loop at the end is what each line of results-later.txt changed)
cd /tmp/act
run() {
  name=$1; shift
  s=$(date +%s)
  XDG_DATA_HOME=/tmp/act/data XDG_CONFIG_HOME=/tmp/act/cfg $BIN train --headless --set mix.strategy=rd --set post.steps=60 --set eval.every=60 --set eval.dev_items=200 "$@" > $name.log 2>&1
  e=$(date +%s)
  dir=$(grep -o "run folder [^ ]*" $name.log | tail -1 | cut -d' ' -f3)
  python3 - "$dir" "$name" "$((e-s))" <<'PY' >> /tmp/act/results.txt
import json,sys,glob
d,name,secs=sys.argv[1:]
def acc(p):
    j=json.load(open(p)); return round(j['accuracy'],3), round(j['ece'],3), j['n']
devs=sorted(glob.glob(d+'/dev-post-*.json'))
evs=sorted(glob.glob(d+'/eval-post-*.json'))
m=[json.loads(l) for l in open(d+'/metrics.jsonl')]
pre=sum(r['step_seconds'] for r in m if r['phase']=='pretrain')
print(name, 'wall', secs, 'pretrain %.0f'%pre, 'dev0', acc(devs[0]), 'dev60', acc(devs[-1]), 'eval0', acc(evs[0]), flush=True)
PY
}
for seed in 1 2 3; do
  run s$seed-relu2-2000 --set run.seed=$seed --set model.activation=relu2
done
echo done >> /tmp/act/results.txt
