#!/bin/bash
# The default job in a fresh data directory inside tmux at 120x40: seconds to the first
# post-training step, the screen, then `tmux kill-session` and the run's events.log.
S=hytune-hup
export XDG_DATA_HOME=/tmp/hup/xdg XDG_CONFIG_HOME=/tmp/hup/xdg
t0=$(date +%s.%N)
tmux new-session -d -s $S -x 120 -y 40 "cd /tmp/hup && exec env XDG_DATA_HOME=/tmp/hup/xdg XDG_CONFIG_HOME=/tmp/hup/xdg /work/main/target/release/hytune"
pid=$(tmux list-panes -t $S -F '#{pane_pid}')
until ls /tmp/hup/xdg/hytune/runs/*/metrics.jsonl >/dev/null 2>&1 && grep -q '"phase":"post"' /tmp/hup/xdg/hytune/runs/*/metrics.jsonl; do sleep 0.1; done
echo "first post-training step recorded $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s after start (fresh data directory)"
sleep 20
tmux capture-pane -p -t $S > /tmp/hup/screen-120x40.txt
t1=$(date +%s.%N)
tmux kill-session -t $S
while [ -e /proc/$pid ] && ! grep -q '^[^ ]* [^ ]* Z' /proc/$pid/stat 2>/dev/null; do sleep 0.05; done
echo "process gone $(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t1}") s after tmux kill-session"
echo "--- events.log"; cat /tmp/hup/xdg/hytune/runs/*/events.log
