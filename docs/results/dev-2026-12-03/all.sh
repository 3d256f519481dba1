#!/usr/bin/env bash
# The candidates of the 2026-12-03 dev sweep, one after the other (each resumes). rl_lr 1e-4 and
# clip-higher (post.clip_eps_high = 0.28) were planned and dropped, dr_grpo started and stopped
# (one cell of three unfinished), all for time.
S="$(dirname "$0")/sweep.sh"
$S dev-default
$S dev-kl0.1 --set post.kl_beta=0.1
$S dev-maj0.75 --set post.min_majority=0.75
$S dev-cprg0.25 --set post.reward=consensus_prg --set post.prg_weight=0.25
$S dev-drgrpo --set post.advantage=dr_grpo
