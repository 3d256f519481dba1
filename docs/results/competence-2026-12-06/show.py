"""The competence maps as a table: python3 show.py E TAG... (TAG e.g. dosage-a10-29)."""
import json, sys

E = sys.argv[1]
print("| suite, first factor | difficulty | n | greedy acc. | majority right | pass@8 | vote acc. | answered | cut | groups trained (≥ 4 of 8) | their majority right |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for tag in sys.argv[2:]:
    r = json.load(open(f"{E}/map-{tag}.json"))
    c = r["competence"]
    rows = list(c["by_difficulty"].items()) + [("all", c["overall"])]
    for d, v in rows:
        g = r["by_difficulty"].get(d, r) if d != "all" else r
        tr = v["trained_right"]
        print(f"| {tag} | {d} | {v['items']} | {g['accuracy']:.3f} | {v['majority_right']:.3f} ± {v['majority_right_se']:.3f} | "
              f"{v['pass_at_n']:.3f} | {v['vote_accuracy']:.3f} | {v['answer_rate']:.3f} | {v['cut_rate']:.3f} | "
              f"{v['trained']:.3f} | {'—' if tr is None else f'{tr:.3f}'} |")
    bt = c["overall"].get("by_threshold")
    if bt:
        print(f"| {tag} | vote threshold → (trained, right) | " + " | ".join(
            f"≥{t}: {a:.2f}, {'—' if b is None else f'{b:.2f}'}" for t, a, b in bt) + " | | | | |")
