#!/usr/bin/env python3
"""Dev figures of the final model of each sweep folder: overall and by difficulty, mean over seeds.
Usage: show.py /work/exp/dev-*"""
import csv, sys, statistics as st
import os
for d in [a for a in sys.argv[1:] if os.path.exists(f"{a}/results.csv")]:
    rows = [r for r in csv.DictReader(open(f"{d}/results.csv")) if r["split"] == "dev" and r["phase"] == "post" and r["done"] == "true"]
    if not rows:
        continue
    last = max(int(r["step"]) for r in rows)
    out = []
    for diff in ["all", "1", "2", "3"]:
        rs = [r for r in rows if int(r["step"]) == last and r["difficulty"] == diff]
        f = lambda k: st.mean(float(r[k]) for r in rs)
        sd = st.stdev(float(r["accuracy"]) for r in rs) if len(rs) > 1 else 0
        if diff == "all":
            out.append(f"seeds {len(rs)} acc {f('accuracy'):.3f}±{sd:.3f} ECE {f('ece'):.3f} Brier {f('brier'):.3f} cerr {f('confident_error_rate'):.3f} conf {f('mean_confidence'):.3f}")
        else:
            out.append(f"| d{diff} acc {f('accuracy'):.3f} conf {f('mean_confidence'):.3f} cerr {f('confident_error_rate'):.3f}")
    print(f"{d.split('/')[-1]:<16}", " ".join(out))
