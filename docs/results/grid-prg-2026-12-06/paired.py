#!/usr/bin/env python3
"""Seed-1 runs on the same eval items (step 24): accuracy and Brier of each, then each run
against the first, paired, with a 95% per-item bootstrap interval (2000 resamples, seed 0).
Items are keyed by question (the few repeated questions count once).
  paired.py NAME=RUN_DIR [NAME=RUN_DIR ...]   (default: the floor grid's seed-1 runs and controls)"""
import json, random, sys

G = "/work/exp/grid-real-floor/cells"
args = sys.argv[1:] or [
    f"RD (16 traces)={G}/finance-n16-rd-s1",
    f"HyTuning + floor (RD on 12)={G}/finance-n16-hytuning-s1",
    f"format control (RD on 12)={G}/finance-n16-hytuning+format-s1",
    "RD on the 12 traces=/work/exp/rd12/rd12-s1",
    "HyTuning + floor, PRG alpha (RD on 16)=/work/exp/prg-floor/s1",
]
f = "predictions-eval-post-0000024.jsonl"
P = {}
for a in args:
    name, d = a.split("=", 1)
    try:
        P[name] = {r["question"]: r for r in map(json.loads, open(f"{d}/{f}"))}
    except FileNotFoundError:
        print(f"(skipped {name}: no {d}/{f})")
qs = sorted(set.intersection(*(set(p) for p in P.values())))
acc = lambda r: float(r["correct"])
brier = lambda r: (r["confidence"] - float(r["correct"])) ** 2
mean = lambda v: sum(v) / len(v)
print(f"{len(qs)} eval items in every run\n")
print("| run | accuracy | Brier |\n|---|---|---|")
for k, p in P.items():
    print(f"| {k} | {mean([acc(p[q]) for q in qs]):.3f} | {mean([brier(p[q]) for q in qs]):.3f} |")
rng = random.Random(0)
names = list(P)
print(f"\n| against {names[0]} | accuracy | Brier |\n|---|---|---|")
for b in names[1:]:
    cells = []
    for m in (acc, brier):
        d = [m(P[b][q]) - m(P[names[0]][q]) for q in qs]
        boots = sorted(mean([rng.choice(d) for _ in d]) for _ in range(2000))
        cells.append(f"{mean(d):+.3f} [{boots[50]:+.3f}, {boots[1949]:+.3f}]")
    print(f"| {b} | {cells[0]} | {cells[1]} |")
