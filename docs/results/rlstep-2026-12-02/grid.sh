#!/usr/bin/env bash
# Dev sweep (rl_step scaled at rl_lr 3e-4 and 1e-3), then the 16-label grid with the chosen
# settings: HyTuning, RD, the two controls and RLIF, seeds 1-3, eval n 1000, dev n 300.
S="$(dirname "$0")/sweep.sh"
$S hy-scaled-3e-4 --set 'experiment.strategies=["hytuning"]' --set post.rl_step=scaled --set post.rl_lr=3e-4
$S hy-scaled-1e-3 --set 'experiment.strategies=["hytuning"]' --set post.rl_step=scaled --set post.rl_lr=1e-3
$S main16 --set 'experiment.strategies=["hytuning","rd","hytuning+random","hytuning+format","rlif"]' --set post.rl_step=scaled --set post.rl_lr=3e-4
