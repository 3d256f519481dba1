#!/usr/bin/env python3
"""Eval accuracy, mean confidence, Brier and steps written, per difficulty, of each cell's final
predictions (issue 34: where the gain and the Brier come from). Difficulty 3 is one step beyond
the training data's (eval goes one step beyond training).
    by-difficulty.py CELLS_DIR [RUN_DIR ...]   (extra run folders, e.g. rd-lr09/s1)
"""
import collections, glob, json, os, sys

def rows(path):
    with open(path) as f:
        return [json.loads(l) for l in f]

def last_eval(run):
    files = sorted(glob.glob(os.path.join(run, "predictions-eval-post-*.jsonl")))
    return files[-1] if files else None

runs = sorted(glob.glob(os.path.join(sys.argv[1], "*"))) + sys.argv[2:]
print("| run | accuracy | " + " | ".join(f"d{d} acc · conf · Brier · steps" for d in (1, 2, 3)) + " |")
print("|---|---|---|---|---|")
for run in runs:
    f = last_eval(run)
    if not f:
        continue
    p = rows(f)
    by = collections.defaultdict(list)
    for r in p:
        by[r["difficulty"]].append(r)
    def cell(v):
        n = len(v)
        acc = sum(r["correct"] for r in v) / n
        conf = sum(r["confidence"] for r in v) / n
        brier = sum((r["confidence"] - r["correct"]) ** 2 for r in v) / n
        steps = sum(len(r["steps"]) for r in v) / n
        return f"{acc:.2f} · {conf:.2f} · {brier:.3f} · {steps:.2f} (n {n})"
    acc = sum(r["correct"] for r in p) / len(p)
    name = "/".join(run.rstrip("/").split("/")[-2 if run in sys.argv[2:] else -1:])
    print(f"| {name} | {acc:.3f} | "
          + " | ".join(cell(by[d]) for d in sorted(by)) + " |")
