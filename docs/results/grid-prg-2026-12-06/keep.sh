#!/usr/bin/env bash
# Keeps what a sweep cell's comparisons need after its machine is gone: its dev predictions,
# metrics.jsonl and config.toml, gzipped under alpha-cap/NAME/ (NAME: the run folder's name), so
# that dev-seeds.py can pair a later session's seeds with it. Run folders live outside the
# repository (/work/exp) and do not survive the machine.
#   keep.sh RUN [RUN ...]
set -eu
here=$(dirname "$0")
for run in "$@"; do
  dst="$here/alpha-cap/$(basename "$run")"
  mkdir -p "$dst"
  cp "$run/config.toml" "$dst/"
  for f in "$run"/predictions-dev-post-*.jsonl "$run/metrics.jsonl"; do
    gzip -9 -n -c "$f" > "$dst/$(basename "$f").gz"
  done
  echo "kept $run in $dst"
done
