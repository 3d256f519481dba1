#!/usr/bin/env bash
# The candidates of the 2026-12-03 dev sweep, one after the other (each resumes). dr_grpo was
# finished, and clip-higher, rl_lr 1e-4 and group size 8 run, in a later session.
S="$(dirname "$0")/sweep.sh"
$S dev-default
$S dev-kl0.1 --set post.kl_beta=0.1
$S dev-maj0.75 --set post.min_majority=0.75
$S dev-cprg0.25 --set post.reward=consensus_prg --set post.prg_weight=0.25
$S dev-drgrpo --set post.advantage=dr_grpo
# Measured in the next session (same sweep.sh):
$S dev-cliphigh --set post.clip_eps_high=0.28
$S dev-rllr1e-4 --set post.rl_lr=1e-4
$S dev-g8 --set post.group_size=8
