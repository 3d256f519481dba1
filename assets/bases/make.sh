#!/usr/bin/env bash
# Makes the base model that hytune ships (src/shipped.rs): the default config's base, pretrained
# on the general corpus with two threads on the CPU backend. A second run on 2026-12-02 gave other
# weights than the committed file: bit-for-bit regeneration is not established (check with cmp).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=base-v7-rope-d128-l4-h4-c160-m4-general2000-b32-lr0.003-s42.hyt
out=${1:-assets/bases/$name}
export RAYON_NUM_THREADS=2
cargo run --release -- pretrain --backend cpu --out "$out"
