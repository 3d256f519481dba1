#!/usr/bin/env bash
# RD at 0.9·lr, the control for HyTuning's RD step in the grid (alpha pinned at 0.9): rd-lr.sh
# with LR = 9e-4 into /work/exp/rd-lr09. Resumes: rerun it.
#   G=/work/exp/grid-real-prg rd-lr09.sh SEED [THREADS]
OUT=${OUT:-/work/exp/rd-lr09} exec "$(dirname "$0")/rd-lr.sh" 9e-4 "$@"
