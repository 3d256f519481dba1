"""Dev comparison of the training terms (terms.sh) against HyTuning as shipped (run.sh's cells),
dosage (or SUITE), 8 labels, seeds 1-3, the 500 dev items: accuracy, Brier, ECE, AURC and the certified
coverage (ε 0.05, δ 0.1) of each final model; paired per-item bootstrap intervals of each
variant − shipped (1000 resamples, seeds pooled per resample).
    python3 terms.py [SUITE [/work/exp]]"""
import glob, json, random, sys

S = sys.argv[1] if len(sys.argv) > 1 else "dosage"
E = sys.argv[2] if len(sys.argv) > 2 else "/work/exp"
ARMS = {a: f"{E}/faith-{S}-8" + (f"-{a}" if a != "shipped" else "")
        for a in ["shipped", "lr2", "brier", "vote", "vote2"]}


def final(cell, split):
    f = sorted(glob.glob(f"{cell}/{split}-post-*.json"))[-1]
    rep = json.load(open(f))
    preds = [json.loads(l) for l in open(f.replace(f"/{split}-", f"/predictions-{split}-").replace(".json", ".jsonl"))]
    return rep, {p["question"]: (p["confidence"], p["correct"]) for p in preds if not p.get("unfit")}


def aurc(items):
    items = sorted(items, key=lambda x: -x[0])
    wrong, area = 0, 0.0
    for i, (_, ok) in enumerate(items, 1):
        wrong += not ok
        area += wrong / i
    return area / len(items)


def brier(items):
    return sum((c - ok) ** 2 for c, ok in items) / len(items)


def certified(items, eps=0.05, delta=0.1):
    """Coverage of hytune's certificate (method/certify.rs), recomputed: fixed-sequence exact
    binomial tests from the most confident down, starting at 45 items."""
    from math import comb
    items = sorted(items, key=lambda x: -x[0])
    n_min, best, n, k, i = 45, 0.0, 0, 0, 0
    while i < len(items):
        c = items[i][0]
        while i < len(items) and items[i][0] == c:
            n += 1; k += not items[i][1]; i += 1
        if n < n_min:
            continue
        p = sum(comb(n, t) * eps ** t * (1 - eps) ** (n - t) for t in range(k + 1))
        if p > delta:
            break
        best = n / len(items)
    return best


def acc(items):
    return sum(ok for _, ok in items) / len(items)


data = {}
for arm, d in ARMS.items():
    for s in (1, 2, 3):
        cells = glob.glob(f"{d}/cells/{S}-n8-hytuning-s{s}")
        if cells and glob.glob(f"{cells[0]}/done.json"):
            data.setdefault(arm, {})[s] = final(cells[0], "dev")
print("| arm | seeds | dev accuracy | Brier | ECE | AURC | certified coverage (ε 0.05) |")
print("|---|---|---|---|---|---|---|")
for arm, by in data.items():
    reps = [r for r, _ in by.values()]
    items = [list(p.values()) for _, p in by.values()]
    m = lambda f: sum(f(x) for x in items) / len(items)
    ece = sum(r["ece"] for r in reps) / len(reps)
    cov = [certified(x) for x in items]
    print(f"| {arm} | {len(reps)} | {m(acc):.3f} | {m(brier):.3f} | {ece:.3f} | {m(aurc):.3f} | "
          + " / ".join(f"{c:.3f}" for c in cov) + " |")
print()
print("| comparison | accuracy | Brier | AURC |")
print("|---|---|---|---|")
pairs = [(a, "shipped") for a in data if a != "shipped"] + [("brier", "lr2")]
for arm, ref in pairs:
    if arm not in data or ref not in data:
        continue
    by, base = data[arm], data[ref]
    seeds = [s for s in by if s in base]
    qs = sorted(set.intersection(*[set(by[s][1]) & set(base[s][1]) for s in seeds]))
    rng = random.Random(7)
    cols = []
    for f in (acc, brier, aurc):
        def diff(idx):
            return sum(f([by[s][1][qs[i]] for i in idx]) - f([base[s][1][qs[i]] for i in idx]) for s in seeds) / len(seeds)
        point = diff(range(len(qs)))
        draws = sorted(diff([rng.randrange(len(qs)) for _ in qs]) for _ in range(1000))
        cols.append(f"{point:+.3f} [{draws[25]:+.3f}, {draws[974]:+.3f}]")
    print(f"| {arm} − {ref} ({len(seeds)} seeds, {len(qs)} items) | " + " | ".join(cols) + " |")
