#!/usr/bin/env python3
"""Calibration of each strategy's final model on eval.jsonl, split by difficulty: all items, the
levels post-training teaches (1-2 steps) and the level beyond training (3 steps). ECE as hytune
computes it (10 equal bins); paired per-item bootstrap (1000 resamples, the same items for both
strategies, seed by seed, then the mean over seeds) of HyTuning - other.
Usage: calib.py [--split dev] EXPERIMENT_DIR...   (the cells of every folder, pooled; one label count)"""
import json, re, os, random, sys, statistics as st

args = sys.argv[1:]
split = "eval"
if args[:1] == ["--split"]:
    split, args = args[1], args[2:]

def load(d):
    if not os.path.exists(os.path.join(d, "done.json")):
        return None
    f = sorted(x for x in os.listdir(d) if x.startswith(f"predictions-{split}-post-") and not x.endswith("0000000.jsonl"))
    return [json.loads(l) for l in open(os.path.join(d, f[-1]))] if f else None

def ece(conf, ok):
    bins = {}
    for c, o in zip(conf, ok):
        b = min(int(c * 10), 9)
        n, r, s = bins.get(b, (0, 0, 0.0))
        bins[b] = (n + 1, r + o, s + c)
    return sum(n / len(conf) * abs(r / n - s / n) for n, r, s in bins.values())

def cerr(conf, ok):
    return sum((not o) and c >= 0.9 for c, o in zip(conf, ok)) / len(conf)

SUBSETS = {"all": lambda d: True, "1-2 steps": lambda d: d in (1, 2), "3 steps": lambda d: d == 3}
runs = {}
for c in sorted(os.path.join(r, "cells", x) for r in args for x in os.listdir(os.path.join(r, "cells"))):
    m = re.search(r"-n(\d+)-(.+)-s(\d+)$", os.path.basename(c))
    if not m:
        continue
    strat, seed = m.group(2), m.group(3)
    p = load(c)
    if p:
        runs.setdefault(strat, {})[int(seed)] = p

def figures(preds, keep):
    ps = [p for p in preds if keep(p.get("difficulty"))]
    conf, ok = [p["confidence"] for p in ps], [p["correct"] for p in ps]
    return sum(ok) / len(ok), ece(conf, ok), cerr(conf, ok), st.mean(conf), len(ps)

print(f"{split}, final models, mean ± std over seeds")
print("| strategy | seeds | items | accuracy | ECE | confident errors | mean confidence |")
print("|---|---|---|---|---|---|---|")
for name, keep in SUBSETS.items():
    for s, by_seed in runs.items():
        f = [figures(p, keep) for p in by_seed.values()]
        col = lambda i: f"{st.mean(x[i] for x in f):.3f} ± {st.stdev(x[i] for x in f) if len(f) > 1 else 0:.3f}"
        print(f"| {s} ({name}) | {len(f)} | {f[0][4]} | {col(0)} | {col(1)} | {col(2)} | {col(3)} |")

random.seed(0)
print("\nPaired HyTuning - other, 95% per-item bootstrap interval (seeds both ran)")
print("| comparison | subset | seeds | accuracy | ECE | confident errors |")
print("|---|---|---|---|---|---|")
hy = runs.get("hytuning", {})
for other, by_seed in runs.items():
    if other == "hytuning":
        continue
    seeds = sorted(set(hy) & set(by_seed))
    if not seeds:
        continue
    for name, keep in SUBSETS.items():
        pairs = []
        for s in seeds:
            a = [p for p in hy[s] if keep(p.get("difficulty"))]
            b = {p["question"]: p for p in by_seed[s] if keep(p.get("difficulty"))}
            pairs.append([(x, b[x["question"]]) for x in a if x["question"] in b])
        def diff(idx_sets, m):
            out = []
            for pr, idx in zip(pairs, idx_sets):
                A = [pr[i][0] for i in idx]; B = [pr[i][1] for i in idx]
                out.append(m([p["confidence"] for p in A], [p["correct"] for p in A]) - m([p["confidence"] for p in B], [p["correct"] for p in B]))
            return st.mean(out)
        full = [range(len(pr)) for pr in pairs]
        res = {}
        acc = lambda conf, ok: sum(ok) / len(ok)
        for mname, m in (("acc", acc), ("ece", ece), ("cerr", cerr)):
            reps = sorted(diff([[random.randrange(len(pr)) for _ in pr] for pr in pairs], m) for _ in range(1000))
            res[mname] = f"{diff(full, m):+.3f} [{reps[25]:+.3f}, {reps[974]:+.3f}]"
        print(f"| hytuning - {other} | {name} | {len(seeds)} | {res['acc']} | {res['ece']} | {res['cerr']} |")
