#!/usr/bin/env python3
"""hytune against TRL's GRPOTrainer on the same RLIF work, one run each, on this machine: the
same model directory, unlabeled questions, group size, new tokens, consensus reward, KL weight
and thread count; full fine-tuning and LoRA (PEFT's for TRL). Both learning rates default to
1e-12, so no step moves the policy: every step of every run decodes the base model, and the
work (response lengths) is the same in expectation. Prints a table of seconds per step (median
after one warm-up step) and peak RSS (`/usr/bin/time`), and the ratios.
Optional: needs a Python with torch, transformers, trl and peft (--python); never the build
or the tests.

    python3 bench/peer.py --model /tmp/smol-hf --python /tmp/torchenv/bin/python --threads 2
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def timed(cmd, env, rss_file):
    """Runs `cmd` under /usr/bin/time; its stdout and its peak RSS in bytes."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr.strip()[-3000:]}")
    return out.stdout, int(open(rss_file).read().split()[-1]) * 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a Hugging Face model directory")
    ap.add_argument("--python", default=sys.executable, help="a Python with torch, trl, peft")
    ap.add_argument("--hytune", default=os.path.join(ROOT, "target/release/hytune"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up")
    ap.add_argument("--ranks", type=int, nargs="+", default=[0, 16], help="0: full fine-tuning")
    ap.add_argument("--impls", nargs="+", default=["hytune", "trl"])
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--beta", type=float, default=0.02)
    ap.add_argument("--lr", type=float, default=1e-12,
                    help="both learning rates (default: too small to move the policy, so every "
                         "step and both tools decode the same model and the same lengths)")
    ap.add_argument("--work", default="/tmp/hytune-peer")
    ap.add_argument("--set", action="append", default=[], help="more hytune --set (e.g. post.micro_batch=4)")
    ap.add_argument("--tag", default="", help="a name for this hytune variant in the table")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    data = os.path.join(a.work, "data")
    if not os.path.isdir(data):
        subprocess.run([a.hytune, "data", "gen", "--suite", "dosage", "--out", data,
                        "--seed", "7"], check=True, capture_output=True)
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads),
               MKL_NUM_THREADS=str(a.threads))
    results = []
    for rank in a.ranks:
        if "hytune" in a.impls:
            out = os.path.join(a.work, f"hytune-r{rank}")
            subprocess.run(["rm", "-rf", out])
            sets = {
                "mix.strategy": '"rlif"', "post.reward": '"consensus"',
                "post.questions": a.questions, "post.group_size": a.group, "post.votes": a.group,
                "post.max_new_tokens": a.new_tokens, "post.kl_beta": a.beta,
                "post.steps": a.steps + 1, "lora.rank": rank, "model.prompt": '"chat"',
                "eval.every": 0, "eval.max_items": 4, "eval.dev_items": 4, "eval.canary": 0,
                "checkpoint.every": 0, "post.min_majority": 0.0, "post.lr": a.lr, "post.rl_lr": a.lr, "post.rl_step": '"always"',
            }
            cmd = [a.hytune, "train", "--headless", "--backend", "cpu", "--model", a.model,
                   "--data", data, "--out", out]
            for k, v in sets.items():
                cmd += ["--set", f"{k}={v}"]
            for kv in a.set:
                cmd += ["--set", kv]
            _, rss = timed(cmd, env, os.path.join(a.work, "rss"))
            steps = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
            steps = [s for s in steps if s["phase"] == "post"][1:]
            results.append({
                "impl": "hytune" + (f" ({a.tag})" if a.tag else ""), "lora_rank": rank,
                "step_s_median": statistics.median(s["step_seconds"] for s in steps),
                "rollout_s": statistics.median(s["time_rollout"] for s in steps),
                "update_s": statistics.median(s["time_update"] for s in steps),
                "peak_rss_bytes": rss,
            })
            print(json.dumps(results[-1]), flush=True)
        if "trl" in a.impls:
            cmd = [a.python, os.path.join(HERE, "trl_grpo.py"), "--model", a.model, "--data", data,
                   "--lora", str(rank), "--threads", str(a.threads), "--steps", str(a.steps),
                   "--questions", str(a.questions), "--group", str(a.group),
                   "--new-tokens", str(a.new_tokens), "--beta", str(a.beta), "--lr", str(a.lr)]
            stdout, rss = timed(cmd, env, os.path.join(a.work, "rss"))
            r = json.loads(stdout.strip().splitlines()[-1])
            r["peak_rss_bytes"] = rss
            results.append(r)
            print(json.dumps(r), flush=True)
    print(f"\n| impl | LoRA rank | s/step | peak RSS |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['impl']} | {r['lora_rank'] or 'full FT'} | {r['step_s_median']:.1f} | "
              f"{r['peak_rss_bytes'] / 2**30:.2f} GiB |")
    by = {(r["impl"].split(" ")[0], r["lora_rank"]): r for r in results}
    for rank in a.ranks:
        h, t = by.get(("hytune", rank)), by.get(("trl", rank))
        if h and t:
            print(f"rank {rank}: hytune/TRL step time {h['step_s_median'] / t['step_s_median']:.2f}x, "
                  f"peak RSS {h['peak_rss_bytes'] / t['peak_rss_bytes']:.2f}x")


if __name__ == "__main__":
    main()
