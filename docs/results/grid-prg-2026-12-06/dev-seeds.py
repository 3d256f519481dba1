#!/usr/bin/env python3
"""Dev accuracy and Brier of runs over seeds, each against the first, paired per question and
pooled over the seeds, with a 95% bootstrap interval over questions (2000 resamples, seed 0):
a question's difference is its mean over the seeds, so a resample keeps a question's seeds
together. Each run is a folder (a run's, or one kept under alpha-cap/) holding
predictions-dev-post-STEP.jsonl or .jsonl.gz; the k-th folder of each name is seed k's.
    dev-seeds.py [--step 24] NAME=DIR[,DIR ...] NAME=DIR[,DIR ...] ...
"""
import gzip, json, os, random, sys

args = sys.argv[1:]
step = 24
if args[:1] == ["--step"]:
    step, args = int(args[1]), args[2:]
if len(args) < 2:
    sys.exit(__doc__)


def load(d):
    stem = os.path.join(d, f"predictions-dev-post-{step:07}.jsonl")
    for path, opener in ((stem, open), (stem + ".gz", gzip.open)):
        if os.path.exists(path):
            with opener(path, "rt") as f:
                return {r["question"]: r for r in map(json.loads, f)}
    sys.exit(f"{stem}(.gz): not found")


runs = {}
for a in args:
    if "=" not in a:
        sys.exit(f"{a}: expected NAME=DIR[,DIR ...]")
    name, dirs = a.split("=", 1)
    runs[name] = [load(d) for d in dirs.split(",")]
names = list(runs)
seeds = len(runs[names[0]])
if any(len(v) != seeds for v in runs.values()):
    sys.exit("every name needs the same number of seeds (folders)")
mean = lambda v: sum(v) / len(v)
acc = lambda r: float(r["correct"])
brier = lambda r: (r["confidence"] - float(r["correct"])) ** 2
qs = sorted(set.intersection(*(set(p) for v in runs.values() for p in v)))
print(f"dev, step {step}: {len(qs)} questions in every run, {seeds} seed(s)\n")
print("| run | accuracy per seed | mean | Brier per seed | mean |\n|---|---|---|---|---|")
for k, v in runs.items():
    a = [mean([acc(p[q]) for q in qs]) for p in v]
    b = [mean([brier(p[q]) for q in qs]) for p in v]
    print(f"| {k} | {' · '.join(f'{x:.3f}' for x in a)} | {mean(a):.3f} "
          f"| {' · '.join(f'{x:.3f}' for x in b)} | {mean(b):.3f} |")
print(f"\n| against {names[0]} | accuracy (points) | Brier |\n|---|---|---|")
for n in names[1:]:
    rng = random.Random(0)  # per comparison, as dev-paired.py: an interval is not order-dependent
    cells = []
    for m, scale, fmt in ((acc, 100, "{:+.1f}"), (brier, 1, "{:+.3f}")):
        d = [mean([m(runs[n][s][q]) - m(runs[names[0]][s][q]) for s in range(seeds)]) for q in qs]
        boots = sorted(mean([rng.choice(d) for _ in d]) for _ in range(2000))
        lo, hi = boots[50] * scale, boots[1949] * scale
        cells.append(f"{fmt.format(mean(d) * scale)} [{fmt.format(lo)}, {fmt.format(hi)}]")
    print(f"| {n} | {cells[0]} | {cells[1]} |")
