#!/usr/bin/env python3
"""Issue 34, item 3: what a vote threshold (post.min_majority) and a floor on the majority
votes' mean response confidence (post.min_confidence) would train on the unlabeled pool's
difficulties (1-2), from `hytune eval --votes 8 --json` (the competence map's output).
  floors.py map-finance-a2-12.json
Per setting: groups trained; their majority right (precision); the share of right-majority
items the reward follows, and of wrong-majority items."""
import json, sys

c = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "map-finance-a2-12.json"))["competence"]
pool = [d for d in c["by_difficulty"] if d in ("1", "2")]
N = sum(c["by_difficulty"][d]["items"] for d in pool)
right_items = sum(c["by_difficulty"][d]["majority_right"] * c["by_difficulty"][d]["items"] for d in pool)
print(f"pool: {N} dev items of difficulty 1-2; majority right on {right_items / N:.3f}")
print("| setting | groups trained | their majority right | right majorities followed | wrong majorities followed | ratio |")
print("|---|---|---|---|---|---|")
for key, name in (("by_threshold", "min_majority"), ("by_confidence", "min_confidence")):
    rows = {}
    for d in pool:
        b = c["by_difficulty"][d]
        for t, share, right in b[key]:
            tr = share * b["items"]
            x = rows.setdefault(t, [0.0, 0.0])
            x[0] += tr
            x[1] += (right or 0.0) * tr
    for t, (tr, rt) in rows.items():
        fr, fw = rt / right_items, (tr - rt) / (N - right_items)
        print(f"| {name} ≥ {t} | {tr / N:.2f} | {rt / tr if tr else 0:.2f} | {fr:.2f} | {fw:.2f} | {fr / fw if fw else float('inf'):.1f} |")
