#!/usr/bin/python3
"""Cross-checks tracediff's cosine similarity and norms on large, nearly identical tensors (1 - cosine around
1e-9) against numpy in double and against exactly rounded sums (math.fsum of the products, which are exact in
double for f32 and bf16 elements), from the raw bytes diff_neargen saved.

usage: check_cosine.py DIFF_NEARGEN TRACEDIFF OUTDIR
"""
import json
import math
import os
import subprocess
import sys

import numpy as np

gen, tracediff, out = sys.argv[1:4]
subprocess.run([gen, out], check=True)
left, right = os.path.join(out, "near_left.tt"), os.path.join(out, "near_right.tt")


def load(side, point, dt):
    raw = open(os.path.join(out, f"{side}_{point}.bin"), "rb").read()
    if dt == "f32":
        return np.frombuffer(raw, "<f4").astype(np.float64)
    u = np.frombuffer(raw, "<u2")
    return (u.astype(np.uint32) << 16).view("<f4").astype(np.float64)


fails = 0


def check(name, got, want, tol):
    global fails
    ok = abs(got - want) <= tol
    print(f"  {'ok ' if ok else 'BAD'} {name}: tracediff {got!r} reference {want!r} (|diff| {abs(got - want):.3g}, "
          f"tol {tol:.3g})")
    fails += not ok


docs = {}
for threads in ("1", "2"):
    jpath = os.path.join(out, f"near_{threads}.json")
    r = subprocess.run([tracediff, "-f", "--threads", threads, "--json", jpath, "-q", left, right])
    if r.returncode not in (0, 1):
        sys.exit(f"tracediff exit {r.returncode}")
    docs[threads] = {p["point"]: p for p in json.load(open(jpath))["pairs"]}

for line in open(os.path.join(out, "manifest.tsv")):
    point, dt, rows, cols = line.split()
    a, b = load("left", point, dt), load("right", point, dt)
    m = docs["1"][point]["metrics"]
    if docs["2"][point]["metrics"] != m:
        print(f"MISMATCH {point}: metrics differ between 1 and 2 threads")
        fails += 1
    fin = np.isfinite(a) & np.isfinite(b)
    a, b = a[fin], b[fin]
    # exactly rounded sums: every product of two floats is exact in double
    sab, saa, sbb = math.fsum(a * b), math.fsum(a * a), math.fsum(b * b)
    cos_exact = sab / math.sqrt(saa * sbb)
    cos_np = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    d = a - b  # exact in double for f32 and bf16 values this close
    rel_exact = math.sqrt(math.fsum(d * d) / sbb)
    print(f"{point} ({dt}, {a.size} finite elements): 1 - cosine {1 - m['cosine']:.9g}, exact {1 - cos_exact:.9g}, "
          f"numpy {1 - cos_np:.9g}")
    # 1 - cosine to 1e-4 of itself (it is about 1e-9 on the near pairs), and within numpy's own rounding
    check("cosine vs exact sums", m["cosine"], cos_exact, 1e-13)
    check("cosine vs numpy", m["cosine"], cos_np, 1e-12)
    check("rel_l2 vs exact sums", m["rel_l2"], rel_exact, 1e-6 * rel_exact)
    if point.startswith("near_") and not 1e-10 < 1 - cos_exact < 1e-8:
        print(f"MISMATCH {point}: the data are not nearly identical (1 - cosine {1 - cos_exact:.3g})")
        fails += 1

print(f"{fails} failed")
sys.exit(1 if fails else 0)
