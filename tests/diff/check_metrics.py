#!/usr/bin/python3
"""Cross-checks tracediff's metrics against numpy, computed from the raw bytes diff_testgen saved (decoding
bf16 and fp8 here, independently of libtrace), and validates the JSON against schemas/diff.schema.json.

usage: check_metrics.py DIFF_TESTGEN TRACEDIFF OUTDIR SCHEMA
"""
import json
import os
import subprocess
import sys

import numpy as np

np.seterr(invalid="ignore")

gen, tracediff, out, schema_path = sys.argv[1:5]
subprocess.run([gen, out], check=True)
jpath = os.path.join(out, "diff.json")
r = subprocess.run([tracediff, "-f", "--json", jpath, "-q", os.path.join(out, "left.tt"), os.path.join(out, "right.tt")])
if r.returncode != 1:
    sys.exit(f"tracediff exit {r.returncode}, expected 1 (mismatches)")
doc = json.load(open(jpath))

try:
    import jsonschema
    jsonschema.validate(doc, json.load(open(schema_path)))
except ImportError:
    print("python3-jsonschema missing: schema not checked")


def fp8(codes, ebits, mbits, fn):
    codes = codes.astype(np.int64)
    s = np.where(codes & 0x80, -1.0, 1.0)
    e = (codes >> mbits) & ((1 << ebits) - 1)
    m = codes & ((1 << mbits) - 1)
    bias = (1 << (ebits - 1)) - 1
    v = np.where(e == 0, m * 2.0 ** (1 - bias - mbits), (1 + m / 2.0 ** mbits) * 2.0 ** (e - bias))
    v = s * v
    if fn:  # e4m3fn: S.1111.111 is NaN, no infinities
        v = np.where((codes & 0x7F) == 0x7F, np.nan, v)
    else:  # e5m2: IEEE-like
        v = np.where((e == (1 << ebits) - 1) & (m == 0), s * np.inf, v)
        v = np.where((e == (1 << ebits) - 1) & (m != 0), np.nan, v)
    return v


def load(side, point, dt):
    raw = open(os.path.join(out, f"{side}_{point}.bin"), "rb").read()
    if dt == "f32":
        u = np.frombuffer(raw, "<u4")
        return u.view("<f4").astype(np.float64), u.astype(np.int64), 31
    if dt == "f64":
        u = np.frombuffer(raw, "<u8")
        return u.view("<f8").astype(np.float64), u, 63
    if dt == "f16":
        u = np.frombuffer(raw, "<u2")
        return u.view("<f2").astype(np.float64), u.astype(np.int64), 15
    if dt == "bf16":
        u = np.frombuffer(raw, "<u2")
        return (u.astype(np.uint32) << 16).view("<f4").astype(np.float64), u.astype(np.int64), 15
    if dt == "i32":
        v = np.frombuffer(raw, "<i4").astype(np.int64)
        return v.astype(np.float64), v, None
    if dt == "f8_e4m3":
        u = np.frombuffer(raw, "u1")
        return fp8(u, 4, 3, True), u.astype(np.int64), 7
    if dt == "f8_e5m2":
        u = np.frombuffer(raw, "u1")
        return fp8(u, 5, 2, False), u.astype(np.int64), 7
    raise ValueError(dt)


def ordinal(bits, signbit):
    if signbit is None:
        return bits.astype(object)
    bits = [int(x) for x in bits]
    mask = (1 << signbit) - 1
    return [-(b & mask) if (b >> signbit) & 1 else b for b in bits]


fails = 0


def close(name, got, want, rel=1e-9, abs_=0.0):
    global fails
    if got is None or want is None or not np.isfinite(want):
        ok = got == want or (got is None and not np.isfinite(want))
    else:
        ok = abs(got - want) <= abs_ + rel * abs(want)
    if not ok:
        print(f"MISMATCH {name}: tracediff {got!r} numpy {want!r}")
        fails += 1


pairs = {p["point"]: p for p in doc["pairs"]}
for line in open(os.path.join(out, "manifest.tsv")):
    point, dt, layer, *dims = line.split()
    dims = [int(x) for x in dims]
    a, ab, sb = load("left", point, dt)
    b, bb, _ = load("right", point, dt)
    m = pairs[point]["metrics"]
    fin = np.isfinite(a) & np.isfinite(b)
    d = np.where(fin, a - b, 0.0)
    ad = np.abs(d)
    i = int(np.argmax(ad))
    close(point + " max_abs", m["max_abs"], ad[i])
    if m["max_abs_index"] != i:
        print(f"MISMATCH {point} max_abs_index {m['max_abs_index']} vs {i}")
        fails += 1
    if m["max_abs_coord"] != list(np.unravel_index(i, dims)):
        print(f"MISMATCH {point} coord {m['max_abs_coord']} vs {list(np.unravel_index(i, dims))}")
        fails += 1
    af, bf = a[fin], b[fin]
    close(point + " rel_l2", m["rel_l2"], np.linalg.norm(af - bf) / np.linalg.norm(bf), rel=1e-6)  # d^2 summed in float per block (vector kernel)
    close(point + " cosine", m["cosine"], float(np.dot(af, bf) / (np.linalg.norm(af) * np.linalg.norm(bf))),
          rel=1e-12)
    # the reference's RMS comes from the right record's stored statistics (finite elements)
    bfin = b[np.isfinite(b)]
    close(point + " ref_rms", m["ref_rms"], float(np.sqrt(np.mean(bfin * bfin))), rel=1e-6)
    tol = m["atol"] + m["rtol"] * np.abs(bf)
    close(point + " outside_tol", m["outside_tol"], int(np.sum(np.abs(af - bf) > tol)), rel=0)
    an, bn = np.isnan(a), np.isnan(b)
    close(point + " nan_mismatch", m["nan_mismatch"], int(np.sum(an != bn)), rel=0)
    ai, bi = np.isinf(a), np.isinf(b)
    infm = (ai | bi) & ~(an | bn) & ~(ai & bi & (a == b))
    close(point + " inf_mismatch", m["inf_mismatch"], int(np.sum(infm)), rel=0)
    close(point + " diff_elems", m["diff_elems"], int(np.sum(ab != bb)), rel=0)
    oa, ob = ordinal(ab, sb), ordinal(bb, sb)
    ulps = [abs(x - y) for x, y, na, nb in zip(oa, ob, an, bn) if not (na or nb)]
    close(point + " max_ulp", m["max_ulp"], float(max(ulps)), rel=0)
    v = pairs[point]["verdict"]
    want = "MISMATCH" if (m["outside_tol"] or m["nan_mismatch"] or m["inf_mismatch"]) else "WITHIN_TOL"
    if v != want:
        print(f"MISMATCH {point} verdict {v} vs {want}")
        fails += 1
    print(f"{point}: max_abs {m['max_abs']:.6g} rel_l2 {m['rel_l2']:.6g} cosine {m['cosine']:.12g} "
          f"ulp {m['max_ulp']} outside {m['outside_tol']} nan {m['nan_mismatch']} inf {m['inf_mismatch']}")

ff = doc["first_failure"]
if not ff or ff["layer"] != 0 or ff["point"] != "t_f32":
    print("MISMATCH first failure", ff and (ff["layer"], ff["point"]))
    fails += 1
else:
    # the histogram covers every element that is not a NaN/Inf disagreement
    a, _, _ = load("left", "t_f32", "f32")
    b, _, _ = load("right", "t_f32", "f32")
    ad = np.abs(a - b)
    finite = np.isfinite(ad)
    both_nan = np.isnan(a) & np.isnan(b)
    if sum(ff["histogram"]["counts"]) != int(np.sum(finite)):
        print("MISMATCH histogram total", sum(ff["histogram"]["counts"]), int(np.sum(finite)), int(np.sum(both_nan)))
        fails += 1
    w0 = ff["worst"][0]
    if w0["abs_err"] is not None and not np.isinf(w0["abs_err"] or 0):
        print("MISMATCH worst[0] should be a NaN/Inf disagreement (+inf, written null)", w0)
        fails += 1
print(f"{len(pairs) * 10 - fails} passed, {fails} failed")
sys.exit(1 if fails else 0)
