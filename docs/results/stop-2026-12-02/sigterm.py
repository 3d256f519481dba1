#!/usr/bin/env python3
"""Seconds from SIGTERM to exit: start a headless run, wait until post step N is recorded, wait
`delay` s more (inside step N+1), send SIGTERM, time the exit."""
import json, os, signal, subprocess, sys, time, shutil
binary, out, step, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
extra = sys.argv[5:]
shutil.rmtree(out, ignore_errors=True)
p = subprocess.Popen([binary, "train", "--headless", "--backend", "cpu", "--out", out] + extra,
                     stdout=subprocess.DEVNULL, stderr=open(out + ".log", "w"))
def last():
    try:
        rows = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0, None
    post = [r for r in rows if r["phase"] == "post"]
    return (post[-1]["step"], post[-1]["step_seconds"]) if post else (0, None)
t0 = time.time()
while last()[0] < step:
    if p.poll() is not None:
        sys.exit(f"ended early: {open(out + '.log').read()[-2000:]}")
    time.sleep(0.05)
s, secs = last()
time.sleep(delay)
sent = time.time()
p.send_signal(signal.SIGTERM)
p.wait()
took = time.time() - sent
log = open(os.path.join(out, "events.log")).read().strip().splitlines()
print(f"{os.path.basename(binary)} {out}: step {s} took {secs:.2f} s; SIGTERM {delay:.1f} s into step {s+1}; exit {p.returncode} after {took:.2f} s")
print("   " + "\n   ".join(log[-3:]))
