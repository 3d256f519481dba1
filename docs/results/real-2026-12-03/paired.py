"""Paired comparison of two prediction files over the same items (hytune eval --predictions):
accuracy, Brier and confident errors (wrong at confidence >= 0.9) of each, and the difference
A - B with a 95% per-item paired bootstrap interval (10,000 resamples, seed 0).

    python3 paired.py A.jsonl B.jsonl
"""

import json
import sys

import numpy as np


def load(path):
    rows = [json.loads(l) for l in open(path)]
    return {r["question"]: (float(r["correct"]), float(r["confidence"])) for r in rows}


def main(a, b):
    ra, rb = load(a), load(b)
    qs = sorted(set(ra) & set(rb))
    assert len(qs) == len(ra) == len(rb), "not the same items"
    ca, fa = np.array([ra[q] for q in qs]).T
    cb, fb = np.array([rb[q] for q in qs]).T
    metrics = {
        "accuracy": (ca, cb),
        "Brier": ((fa - ca) ** 2, (fb - cb) ** 2),
        "confident errors": ((1 - ca) * (fa >= 0.9), (1 - cb) * (fb >= 0.9)),
    }
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(qs), size=(10000, len(qs)))
    print(f"n {len(qs)} items; A = {a}; B = {b}")
    for name, (x, y) in metrics.items():
        d = (x - y)[idx].mean(axis=1)
        lo, hi = np.percentile(d, [2.5, 97.5])
        print(f"  {name:17} A {x.mean():.3f}  B {y.mean():.3f}  A-B {x.mean() - y.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main(*sys.argv[1:3])
