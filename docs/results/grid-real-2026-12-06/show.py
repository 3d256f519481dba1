#!/usr/bin/env python3
"""Per step of a grid cell: alpha, the held-out meter's solve rate, the unlabeled groups' mean
vote share, silenced share and mean reward; then the dev evaluations.  show.py CELL_DIR"""
import json, sys, glob, os

d = sys.argv[1]
print("| step | α | held-out solved | vote share | silenced | reward |")
print("|---|---|---|---|---|---|")
f = lambda v: "—" if v is None else f"{v:.2f}"
for l in open(os.path.join(d, "metrics.jsonl")):
    m = json.loads(l)
    if m.get("phase") == "post":
        print(f"| {m['step']} | {f(m.get('alpha'))} | {f(m.get('heldout_solve'))} | {f(m.get('vote_share'))} | {f(m.get('silenced_share'))} | {f(m.get('reward_mean'))} |")
for p in sorted(glob.glob(os.path.join(d, "dev-post-*.json"))):
    r = json.load(open(p))
    c = r.get("overall", r)
    print(f"dev step {r['step']}: accuracy {c['accuracy']:.3f} Brier {c['brier']:.3f} ECE {c['ece']:.3f}")
