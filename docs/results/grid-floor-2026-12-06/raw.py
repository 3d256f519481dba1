#!/usr/bin/env python3
"""Raw eval responses to the same questions, seed 1: the base (step 0), then HyTuning with the
floor, its format control and RD at step 24. Items RD gets right and HyTuning wrong at
confidence > 0.8, then items HyTuning gets right and RD wrong.  raw.py [GRID_DIR]"""
import json, sys

g = sys.argv[1] if len(sys.argv) > 1 else "/work/exp/grid-real-floor"
load = lambda p: {r["question"]: r for r in map(json.loads, open(f"{g}/cells/{p}"))}
b = load("finance-n16-hytuning-s1/predictions-eval-post-0000000.jsonl")
h = load("finance-n16-hytuning-s1/predictions-eval-post-0000024.jsonl")
f = load("finance-n16-hytuning+format-s1/predictions-eval-post-0000024.jsonl")
r = load("finance-n16-rd-s1/predictions-eval-post-0000024.jsonl")
qs = [q for q in h if h[q]["difficulty"] <= 2 and q in r and q in f and q in b]
worse = [q for q in qs if r[q]["correct"] and not h[q]["correct"] and h[q]["confidence"] > 0.8]
better = [q for q in qs if h[q]["correct"] and not r[q]["correct"]]
print(f"{len(worse)} items RD right, HyTuning wrong at confidence > 0.8; "
      f"{len(better)} HyTuning right, RD wrong (difficulty 1-2, of {len(qs)})\n")
for q in worse[:4] + better[:2]:
    print(f"Q: {q}  (gold {h[q]['gold']})")
    print(f"  base      : {b[q]['response'][:150]!r}")
    for name, x in [("hytuning", h), ("format", f), ("rd", r)]:
        print(f"  {name:<10}: conf {x[q]['confidence']:.2f} {x[q]['response']!r}")
