#!/usr/bin/env bash
# The TUI on the real model: the floor grid's HyTuning cell config, seed 1 data.
G=/work/exp/grid-real-floor
rm -rf /tmp/tui-real
tmux kill-session -t tui 2>/dev/null
tmux new-session -d -s tui -x 120 -y 40 "RAYON_NUM_THREADS=2 /work/main/target/release/hytune train --backend cpu --config $G/cells/finance-n16-hytuning-s1/config.toml --data $G/data/finance-n16 --out /tmp/tui-real --set eval.dev_items=20 --set eval.max_items=20 2>/tmp/tui-real.err"
