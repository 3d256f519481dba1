#!/usr/bin/env python3
"""Runs a command and reports the peak resident memory (VmHWM-style, sampled every 50 ms)
between each pair of its output lines, so a run's peak can be placed in a phase.
Usage: phases.py CMD ARGS...   (standard library only)"""
import subprocess, sys, threading, time

proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
peak = [0]
lock = threading.Lock()

def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0

def sample():
    while proc.poll() is None:
        r = rss_kb(proc.pid)
        with lock:
            peak[0] = max(peak[0], r)
        time.sleep(0.05)

threading.Thread(target=sample, daemon=True).start()
t0 = time.time()
overall = 0
for line in proc.stdout:
    with lock:
        p, peak[0] = peak[0], 0
    overall = max(overall, p)
    print(f"[{time.time() - t0:7.1f} s, peak since last line {p / 2**20:5.2f} GiB] {line.rstrip()}", flush=True)
proc.wait()
print(f"overall sampled peak {max(overall, peak[0]) / 2**20:.2f} GiB, exit {proc.returncode}")
