#!/usr/bin/env bash
# The step-time and peak-RSS table of README.md here: HyTuning defaults on the real
# SmolLM2-135M-Instruct, one run each, in this order, on a quiet machine (2 threads).
# M=/path/SmolLM2-135M-Instruct.Q4_1.gguf docs/results/lora-2026-12-06/run.sh
set -eu
S=$(dirname "$0")/step.sh
$S lora16 --set lora.rank=16
$S lora16-always --set lora.rank=16 --set 'post.rl_step="always"'
$S lora16-mb4 --set lora.rank=16 --set 'post.rl_step="always"' --set post.micro_batch=4
STEPS=2 $S full-always --set 'post.rl_step="always"'
