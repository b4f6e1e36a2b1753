#!/usr/bin/python3
"""test_npy2tt.py — npy2tt against numpy and tracedump: every dtype it takes round-trips bit for bit with its key
fields and metadata, and every bad input is an error naming the file (exit 2, no trace written; an unwritable
output exit 3).

Usage: test_npy2tt.py NPY2TT TRACEDUMP OUTDIR
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

NPY2TT, TRACEDUMP, OUT = sys.argv[1:4]
failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}")


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def write_manifest(d, records, meta=None, text=None):
    with open(os.path.join(d, "manifest.json"), "w") as f:
        f.write(text if text is not None else json.dumps({"meta": meta or {}, "records": records}))
    return os.path.join(d, "manifest.json")


def roundtrip():
    d = os.path.join(OUT, "roundtrip")
    os.makedirs(d)
    rng = np.random.default_rng(7)
    arrays = {
        "a_f32": (rng.standard_normal((3, 5)).astype("<f4"), "f32"),
        "b_bf16": (rng.integers(0, 1 << 16, (2, 4), dtype=np.uint16), "bf16"),
        "c_f16": (rng.standard_normal(7).astype("<f2"), "f16"),
        "d_f64": (rng.standard_normal((2, 2, 2)).astype("<f8"), "f64"),
        "e_i32": (rng.integers(-1000, 1000, (4, 1), dtype="<i4"), "i32"),
    }
    records = []
    for i, (point, (a, dt)) in enumerate(arrays.items()):
        np.save(os.path.join(d, f"{point}.npy"), a)
        rec = dict(file=f"{point}.npy", dtype=dt, point=point, layer=i - 1, phase="decode0", step=1,
                   prompt_id="p", token_id=40 + i, logical_tok_idx=9, pos_id=9 + i, rows=int(a.shape[0]))
        if point == "e_i32":
            for k in ("token_id", "logical_tok_idx", "step"):
                del rec[k]  # left out: TT_UNSET
        records.append(rec)
    m = write_manifest(d, records, {"engine": "test", "seed": "7"})
    tt = os.path.join(d, "t.tt")
    r = run(NPY2TT, m, tt)
    expect(r.returncode == 0, f"roundtrip: npy2tt exit {r.returncode}: {r.stderr}")
    lst = run(TRACEDUMP, "--list", "--json", tt)
    got = [json.loads(line) for line in lst.stdout.splitlines()]
    expect(len(got) == len(records), f"roundtrip: {len(got)} records listed, {len(records)} written")
    for rec, g in zip(records, got):
        for k in ("point", "layer", "phase", "step", "prompt_id", "token_id", "logical_tok_idx", "pos_id"):
            # the listing leaves some unset fields out, shows others as -1
            expect(g.get(k, -1) == rec.get(k, -1), f"roundtrip {rec['point']}: {k} {g.get(k)} != {rec.get(k, -1)}")
        expect(g["seq_len"] == rec["rows"], f"roundtrip {rec['point']}: rows {g['seq_len']}")
        expect(g["dtype"] == rec["dtype"], f"roundtrip {rec['point']}: dtype {g['dtype']} != {rec['dtype']}")
        expect(g["shape"] == list(arrays[rec["point"]][0].shape), f"roundtrip {rec['point']}: shape {g['shape']}")
    meta = json.loads(run(TRACEDUMP, "--json", tt).stdout)["metadata"]
    expect(meta.get("engine") == "test" and meta.get("seed") == "7", f"roundtrip: metadata {meta}")
    exp = os.path.join(d, "export") + "/"
    r = run(TRACEDUMP, "--export-npy", exp, "-q", tt)
    expect(r.returncode == 0, f"roundtrip: export exit {r.returncode}: {r.stderr}")
    for i, (point, (a, _)) in enumerate(arrays.items()):
        name = [f for f in os.listdir(exp) if f.startswith(f"{i}_") and f.endswith(f"_{point}.npy")]
        expect(len(name) == 1, f"roundtrip {point}: exported as {name}")
        b = np.load(os.path.join(exp, name[0]))
        expect(b.shape == a.shape and b.tobytes() == a.tobytes(), f"roundtrip {point}: values differ")


def errors():
    d = os.path.join(OUT, "errors")
    os.makedirs(d)
    np.save(os.path.join(d, "x.npy"), np.ones((2, 3), "<f4"))
    with open(os.path.join(d, "x.npy"), "rb") as f:
        whole = f.read()
    with open(os.path.join(d, "short.npy"), "wb") as f:
        f.write(whole[:-4])
    with open(os.path.join(d, "junk.npy"), "wb") as f:
        f.write(b"not numpy at all")
    np.save(os.path.join(d, "fortran.npy"), np.asfortranarray(np.ones((2, 3), "<f4")))
    ok = dict(file="x.npy", dtype="f32", point="p", rows=2)
    cases = [
        ("a missing .npy", [dict(ok, file="none.npy")], None, 2, "none.npy"),
        ("f32 data said to be bf16", [dict(ok, dtype="bf16")], None, 2, "x.npy"),
        ("an unknown dtype", [dict(ok, dtype="f8")], None, 2, "record 0"),
        ("a record without point", [{k: v for k, v in ok.items() if k != "point"}], None, 2, "record 0"),
        ("a truncated .npy", [dict(ok, file="short.npy")], None, 2, "short.npy"),
        ("not a .npy", [dict(ok, file="junk.npy")], None, 2, "junk.npy"),
        ("a Fortran-ordered array", [dict(ok, file="fortran.npy")], None, 2, "fortran.npy"),
        ("a manifest that is not JSON", None, "{records: [", 2, "manifest.json"),
        ("a manifest without records", None, '{"meta": {}}', 2, "manifest.json"),
    ]
    for what, recs, text, code, named in cases:
        m = write_manifest(d, recs, text=text)
        r = run(NPY2TT, m, os.path.join(d, "t.tt"))
        expect(r.returncode == code, f"{what}: exit {r.returncode}, expected {code} ({r.stderr.strip()})")
        expect(named in r.stderr, f"{what}: message does not name {named}: {r.stderr.strip()}")
        expect(not os.path.exists(os.path.join(d, "t.tt")), f"{what}: a partial trace was written")
    m = write_manifest(d, [ok])
    r = run(NPY2TT, m, os.path.join(d, "no", "such", "dir", "t.tt"))
    expect(r.returncode == 3 and "t.tt" in r.stderr, f"unwritable output: exit {r.returncode}: {r.stderr}")
    r = run(NPY2TT, m)
    expect(r.returncode == 2 and "usage" in r.stderr, f"usage: exit {r.returncode}: {r.stderr}")


shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
roundtrip()
errors()
print(f"test_npy2tt: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
