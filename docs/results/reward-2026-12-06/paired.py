#!/usr/bin/env python3
"""The floor pilot against the grid's seed-1 cells on the same eval items: accuracy and Brier,
and paired differences with a 95% per-item bootstrap interval (2000 resamples, seed 0).
  paired.py PILOT_DIR GRID_DIR"""
import json, random, sys

pilot = sys.argv[1] if len(sys.argv) > 1 else "/work/exp/reward-pilot/floor-0.6"
grid = sys.argv[2] if len(sys.argv) > 2 else "/work/exp/grid-real"
f = "predictions-eval-post-0000024.jsonl"
runs = {
    "HyTuning + min_confidence 0.6": f"{pilot}/{f}",
    "HyTuning (grid)": f"{grid}/cells/finance-n16-hytuning-s1/{f}",
    "RD (grid)": f"{grid}/cells/finance-n16-rd-s1/{f}",
}
P = {k: {r["question"]: r for r in map(json.loads, open(p))} for k, p in runs.items()}
qs = sorted(set.intersection(*(set(p) for p in P.values())))
acc = lambda r: float(r["correct"])
brier = lambda r: (r["confidence"] - float(r["correct"])) ** 2
print(f"{len(qs)} eval items in all three")
for k, p in P.items():
    print(f"{k}: accuracy {sum(acc(p[q]) for q in qs) / len(qs):.3f}  Brier {sum(brier(p[q]) for q in qs) / len(qs):.3f}")
rng = random.Random(0)
a = "HyTuning + min_confidence 0.6"
for b in ("HyTuning (grid)", "RD (grid)"):
    for name, m in (("accuracy", acc), ("Brier", brier)):
        d = [m(P[a][q]) - m(P[b][q]) for q in qs]
        boots = sorted(sum(rng.choice(d) for _ in d) / len(d) for _ in range(2000))
        print(f"{a} − {b}: {name} {sum(d) / len(d):+.3f} [{boots[50]:+.3f}, {boots[1949]:+.3f}]")
