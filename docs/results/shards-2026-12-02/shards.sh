#!/bin/bash
# 12 cells (rd, rlif, hytuning x seeds 1-4, tiny config) unsharded, then in 3 concurrent shards
# on one folder; shard 1 killed (SIGKILL) mid-cell and rerun; merged; results.csv diffed.
set -u
rm -rf whole sharded xdg
B=/work/main/target/release/hytune
CFG=/work/main/assets/configs/tiny.toml
A=(experiment --config $CFG --backend cpu --set 'experiment.strategies=["rd","rlif","hytuning"]' --set 'experiment.fractions=[0.2]' --set 'experiment.seeds=[1,2,3,4]' --set post.steps=24 --set checkpoint.every=4)
export XDG_DATA_HOME=/tmp/byhand/xdg
$B "${A[@]}" --out whole 2> whole.log
$B "${A[@]}" --out sharded --prepare 2> prepare.log
for i in 0 1 2; do $B "${A[@]}" --out sharded --shard $i/3 2> shard$i.log & eval "p$i=$!"; done
# kill shard 1 once it holds a claim on a started cell
at=$(python3 waitclaim.py $p1 6)
echo "killing shard 1 (pid $p1) in cell/steps: $at"
kill -9 $p1; wait $p1 2>/dev/null; wait $p0 $p2
$B "${A[@]}" --out sharded --merge 2> merge-before.log
$B "${A[@]}" --out sharded --shard 1/3 2> shard1-rerun.log
$B "${A[@]}" --out sharded --merge 2> merge.log
tail -n1 merge-before.log merge.log
echo "results.csv: $(wc -l < whole/results.csv) lines unsharded, $(wc -l < sharded/results.csv) sharded"
diff whole/results.csv sharded/results.csv && echo "results.csv identical"
diff whole/summary.md sharded/summary.md && echo "summary.md identical"
diff -r whole/plots sharded/plots && echo "plots identical ($(ls whole/plots | wc -l) files)"
