#!/usr/bin/env python3
"""Dev accuracy of one run against others on the same dev questions, paired, with a 95%
per-item bootstrap interval (2000 resamples, seed 0). Items are keyed by question.
    dev-paired.py A.jsonl B.jsonl [C.jsonl ...]   (predictions-dev-post-STEP.jsonl files; A - each)
Over several seeds, or for Brier as well: dev-seeds.py.
"""
import json, random, sys

def load(p):
    with open(p) as f:
        return {r["question"]: r for r in map(json.loads, f)}

mean = lambda v: sum(v) / len(v)
a = load(sys.argv[1])
for f in sys.argv[2:]:
    b = load(f)
    qs = sorted(set(a) & set(b))
    d = [float(a[q]["correct"]) - float(b[q]["correct"]) for q in qs]
    rng = random.Random(0)
    boots = sorted(mean([rng.choice(d) for _ in d]) for _ in range(2000))
    print(f"{len(qs)} items: {mean(d) * 100:+.1f} [{boots[50] * 100:+.1f}, {boots[1949] * 100:+.1f}]  against {f}")
