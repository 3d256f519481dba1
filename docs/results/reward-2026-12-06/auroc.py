#!/usr/bin/env python3
"""Across dev items of the pool's difficulties (1-2), the AUROC of each confidence signal of the
RD checkpoint's greedy answers against correctness (`hytune eval --predictions` output).
  auroc.py greedy-dev-pred.jsonl"""
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1] if len(sys.argv) > 1 else "greedy-dev-pred.jsonl")]
rows = [r for r in rows if r["difficulty"] in (1, 2)]


def auroc(pairs):
    pos = [c for c, y in pairs if y]
    neg = [c for c, y in pairs if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / len(pos) / len(neg)


print(f"{len(rows)} items, accuracy {sum(r['correct'] for r in rows) / len(rows):.3f}")
for key in ("response_confidence", "answer_confidence", "prg", "self_certainty"):
    print(f"{key}: AUROC {auroc([(r[key], r['correct']) for r in rows]):.3f}")
