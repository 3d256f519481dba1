#!/usr/bin/env python3
"""Raw eval responses of the same questions: the base (step 0), HyTuning and RD at step 24 of
seed 1; items RD gets right and HyTuning gets wrong at confidence > 0.8, then one both get right.
  raw.py GRID_DIR"""
import json, sys

g = sys.argv[1] if len(sys.argv) > 1 else "/work/exp/grid-real"
load = lambda p: {r["question"]: r for r in map(json.loads, open(f"{g}/cells/{p}"))}
b = load("finance-n16-hytuning-s1/predictions-eval-post-0000000.jsonl")
h = load("finance-n16-hytuning-s1/predictions-eval-post-0000024.jsonl")
r = load("finance-n16-rd-s1/predictions-eval-post-0000024.jsonl")
qs = [q for q in h if h[q]["difficulty"] <= 2]
sel = [q for q in qs if r[q]["correct"] and not h[q]["correct"] and h[q]["confidence"] > 0.8][:4]
sel += [q for q in qs if h[q]["correct"] and r[q]["correct"]][:1]
for q in sel:
    print(f"Q: {q}  (gold {h[q]['gold']})")
    print(f"  base      : {b[q]['response'][:150]!r}")
    print(f"  hytuning  : conf {h[q]['confidence']:.2f} {h[q]['response']!r}")
    print(f"  rd        : conf {r[q]['confidence']:.2f} {r[q]['response']!r}")
