#!/usr/bin/python3
"""check_dtype_numpy.py — interop check of libtrace's element-type routines against numpy.

Runs dtype_dump (tests/dtype/dtype_dump.c) into a temporary directory and checks what it wrote:
  - f16 encodings of the f32 inputs against numpy's astype(np.float16) (round to nearest even), and decodings of
    all 65536 f16 patterns against numpy's float16 -> float32;
  - bf16 encodings against an independent numpy round-to-nearest-even on the uint32 bit patterns, and decodings
    of all 65536 bf16 patterns;
  - i8 and i32 encodings against np.rint (ties to even) with saturation and NaN -> 0, f64 against astype;
  - every statistics case in stats.txt against numpy in float64 over the same elements.
NaN is compared by class (and sign), never by payload.

Usage: check_dtype_numpy.py DTYPE_DUMP [DTYPE_DUMP_PORTABLE]
With a second helper (the library built with DT_NO_SIMD), its files must be byte-identical to the first's: the
SSE2 and the portable loops are meant to compute the same bits. That comparison needs no numpy.
Exit status: 0 pass, 1 failure, 77 numpy is not installed (ctest counts it as skipped).
"""
import os
import subprocess
import sys
import tempfile

FILES = ["inputs.f32", "enc_f16.u16", "enc_bf16.u16", "enc_i8.i8", "enc_i32.i32", "enc_f64.f64", "all16.u16",
         "dec_f16.f32", "dec_bf16.f32", "stats.txt"]

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def run_helper(helper, outdir):
    os.mkdir(outdir)
    subprocess.run([helper, outdir], check=True)


def compare_builds(a, b):
    for name in FILES:
        with open(os.path.join(a, name), "rb") as fa, open(os.path.join(b, name), "rb") as fb:
            if fa.read() != fb.read():
                fail("%s differs between the SIMD and the portable build" % name)


def first_bad(np, mask, *arrays):
    """A short description of the first index where mask is true, with the arrays' values there."""
    idx = int(np.flatnonzero(mask)[0])
    vals = ", ".join(hex(int(a[idx])) if a.dtype.kind in "ui" else repr(a[idx]) for a in arrays)
    return "%d mismatches, first at index %d: %s" % (int(mask.sum()), idx, vals)


def check_f16(np, d):
    x = np.fromfile(os.path.join(d, "inputs.f32"), dtype="<f4")
    bits_in = x.view("<u4")
    got = np.fromfile(os.path.join(d, "enc_f16.u16"), dtype="<u2")
    with np.errstate(all="ignore"):
        want = x.astype(np.float16).view("<u2")
    nan_in = np.isnan(x)
    got_nan = ((got & 0x7C00) == 0x7C00) & ((got & 0x03FF) != 0)
    bad = (~nan_in & (got != want)) | (nan_in & ~got_nan)
    if bad.any():
        fail("f16 encode vs numpy: " + first_bad(np, bad, bits_in, got, want))

    pat = np.arange(65536, dtype=np.uint32).astype("<u2")
    got = np.fromfile(os.path.join(d, "dec_f16.f32"), dtype="<f4")
    want = pat.view(np.float16).astype(np.float32)
    pat_nan = ((pat & 0x7C00) == 0x7C00) & ((pat & 0x03FF) != 0)
    same_bits = got.view("<u4") == want.view("<u4")
    sign_ok = np.signbit(got) == ((pat & 0x8000) != 0)
    bad = (~pat_nan & ~same_bits) | (pat_nan & ~(np.isnan(got) & sign_ok))
    if bad.any():
        fail("f16 decode vs numpy: " + first_bad(np, bad, pat, got.view("<u4"), want.view("<u4")))


def check_bf16(np, d):
    x = np.fromfile(os.path.join(d, "inputs.f32"), dtype="<f4")
    u = x.view("<u4").astype(np.uint64)
    got = np.fromfile(os.path.join(d, "enc_bf16.u16"), dtype="<u2").astype(np.uint64)
    # Round to nearest even on the bit pattern: keep the high half, add one when the low half is above the
    # midpoint, or at it with an odd high half. A carry into the exponent is correct (up to infinity).
    high, low = u >> 16, u & 0xFFFF
    up = (low > 0x8000) | ((low == 0x8000) & ((high & 1) == 1))
    want = (high + up.astype(np.uint64)) & 0xFFFF
    nan_in = (u & 0x7FFFFFFF) > 0x7F800000
    got_quiet_nan = ((got & 0x7FC0) == 0x7FC0) & ((got & 0x8000) == (high & 0x8000))
    bad = (~nan_in & (got != want)) | (nan_in & ~got_quiet_nan)
    if bad.any():
        fail("bf16 encode vs numpy: " + first_bad(np, bad, u, got, want))

    pat = np.arange(65536, dtype=np.uint32)
    got = np.fromfile(os.path.join(d, "dec_bf16.f32"), dtype="<u4")
    bad = got != (pat << 16)
    if bad.any():
        fail("bf16 decode: " + first_bad(np, bad, pat, got))


def check_ints(np, d):
    x = np.fromfile(os.path.join(d, "inputs.f32"), dtype="<f4")
    with np.errstate(all="ignore"):
        r = np.rint(x.astype(np.float64))
    nan_in = np.isnan(x)
    for name, dt, lo, hi in (("enc_i8.i8", "<i1", -128, 127), ("enc_i32.i32", "<i4", -2**31, 2**31 - 1)):
        got = np.fromfile(os.path.join(d, name), dtype=dt).astype(np.int64)
        want = np.where(nan_in, 0, np.clip(r, lo, hi)).astype(np.int64)
        bad = got != want
        if bad.any():
            fail("%s vs numpy rint: %s" % (name, first_bad(np, bad, x, got, want)))
    got = np.fromfile(os.path.join(d, "enc_f64.f64"), dtype="<f8")
    want = x.astype(np.float64)
    bad = ~((got == want) | (np.isnan(got) & np.isnan(want)))
    if bad.any():
        fail("f64 widen: " + first_bad(np, bad, x, got, want))


def load_as_f64(np, path, dtype, first, count):
    raw = {"f32": "<f4", "f64": "<f8", "f16": "<u2", "bf16": "<u2", "i8": "<i1", "i32": "<i4"}[dtype]
    a = np.fromfile(path, dtype=raw)[first:first + count]
    if dtype == "f16":
        return a.view(np.float16).astype(np.float64)
    if dtype == "bf16":
        return (a.astype(np.uint32) << 16).view("<f4").astype(np.float64)
    return a.astype(np.float64)


def check_stats(np, d):
    with open(os.path.join(d, "stats.txt")) as f:
        lines = [ln.split() for ln in f if ln.strip()]
    if len(lines) < 10:
        fail("stats.txt has %d cases" % len(lines))
    for (name, dtype, fname, first, count, mn, mx, mean, absmax, l2, nan, inf) in lines:
        got = [float.fromhex(v) for v in (mn, mx, mean, absmax, l2)]
        v = load_as_f64(np, os.path.join(d, fname), dtype, int(first), int(count))
        fin = v[np.isfinite(v)]
        want_nan, want_inf = int(np.isnan(v).sum()), int(np.isinf(v).sum())
        if fin.size:
            want = [fin.min(), fin.max(), fin.mean(), np.abs(fin).max(), np.sqrt(np.sum(fin * fin))]
        else:
            want = [float("nan")] * 5
        problems = []
        if (int(nan), int(inf)) != (want_nan, want_inf):
            problems.append("counts nan %s inf %s, numpy %d %d" % (nan, inf, want_nan, want_inf))
        for label, g, w, exact in zip(("min", "max", "mean", "absmax", "l2"), got, want,
                                      (True, True, False, True, False)):
            if np.isnan(w):
                ok = np.isnan(g)
            elif exact:
                ok = g == w
            elif label == "mean":
                ok = abs(g - w) <= 1e-12 * want[3]
            else:
                ok = abs(g - w) <= 1e-12 * w
            if not ok:
                problems.append("%s %r, numpy %r" % (label, g, float(w)))
        if problems:
            fail("stats %s (%s, %s elements): %s" % (name, dtype, count, "; ".join(problems)))


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        main_dir = os.path.join(tmp, "simd")
        run_helper(sys.argv[1], main_dir)
        if len(sys.argv) == 3:
            portable_dir = os.path.join(tmp, "portable")
            run_helper(sys.argv[2], portable_dir)
            compare_builds(main_dir, portable_dir)
        try:
            import numpy as np
        except ImportError:
            print("numpy is not installed: skipped", file=sys.stderr)
            return 1 if failures else 77
        with np.errstate(all="ignore"):  # signaling NaNs in the inputs raise "invalid" on every cast
            check_f16(np, main_dir)
            check_bf16(np, main_dir)
            check_ints(np, main_dir)
            check_stats(np, main_dir)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("dtype numpy checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
