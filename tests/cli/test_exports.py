#!/usr/bin/python3
"""test_exports.py — tracedump --export-npy and --export-safetensors, read back without tensortrace: the .npy
files with numpy, the safetensors file by parsing it here (8-byte little-endian header length, JSON header, data),
each tensor compared byte for byte with the bytes cli_fixtures put into the trace (mixed.raw/INDEX.bin), and
bf16/fp8 values checked through the documented decodings.

  test_exports.py BUILD_DIR
Skips (exit 77) when numpy is missing.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy is not installed: skipped")
    sys.exit(77)

NPY_DESCR = {"f32": "<f4", "f16": "<f2", "f64": "<f8", "i8": "|i1", "u8": "|u1", "i16": "<i2", "i32": "<i4",
             "i64": "<i8", "bf16": "<u2", "f8_e4m3": "|u1", "f8_e5m2": "|u1", "f8_e4m3fnuz": "|u1",
             "f8_e5m2fnuz": "|u1"}
ST_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16", "f64": "F64", "i8": "I8", "u8": "U8", "i16": "I16",
            "i32": "I32", "i64": "I64", "f8_e4m3": "F8_E4M3", "f8_e5m2": "F8_E5M2", "f8_e4m3fnuz": "U8",
            "f8_e5m2fnuz": "U8"}

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import check  # noqa: E402


def run(*argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        print(" ".join(argv), "exited", p.returncode, p.stderr.decode())
        sys.exit(1)
    return p


def manifest(fx):
    out = []
    for line in open(os.path.join(fx, "mixed.raw", "manifest.tsv")):
        index, name, dtype, shape = line.rstrip("\n").split("\t")
        raw = open(os.path.join(fx, "mixed.raw", index + ".bin"), "rb").read()
        out.append((int(index), name, dtype, tuple(int(x) for x in shape.split(",")) if shape else (), raw))
    return out


def check_npy(tracedump, fx, tmp, tensors):
    outdir = os.path.join(tmp, "npy") + "/"
    run(tracedump, "--export-npy", outdir, fx + "/mixed.tt")
    files = sorted(os.listdir(outdir))
    check(len(files) == len(tensors), f"{len(files)} .npy files for {len(tensors)} tensors")
    for index, name, dtype, shape, raw in tensors:
        path = os.path.join(outdir, f"{index}_{name.replace('/', '_')}.npy")
        if not os.path.exists(path):
            check(False, f"missing {path}")
            continue
        a = np.load(path)
        check(a.dtype == np.dtype(NPY_DESCR[dtype]), f"{path}: dtype {a.dtype}, expected {NPY_DESCR[dtype]}")
        check(a.shape == shape, f"{path}: shape {a.shape}, expected {shape}")
        check(a.tobytes() == raw, f"{path}: bytes differ from the trace's")
        if dtype == "bf16":  # the decoding the note on stderr documents
            f = (a.astype(np.uint32) << 16).view(np.float32)
            check(np.all(np.abs(f) <= 2.0) and np.all(f * 8 == np.round(f * 8)), f"{path}: bf16 values")
    # one tensor to a file, and to standard output
    run(tracedump, "--export-npy", os.path.join(tmp, "one.npy"), "--where", "index=33", fx + "/mixed.tt")
    a = np.load(os.path.join(tmp, "one.npy"))
    check(a.shape == (64, 48) and a.dtype == np.float32, "one.npy shape/dtype")
    p = run(tracedump, "--export-npy", "-", "--where", "point=cube", fx + "/mixed.tt")
    import io
    b = np.load(io.BytesIO(p.stdout))
    check(b.shape == (2, 3, 4) and b.dtype == np.float16, "npy on stdout")
    check(b.tobytes() == [t for t in tensors if t[0] == 35][0][4], "npy on stdout: bytes")


def check_safetensors(tracedump, fx, tmp, tensors):
    path = os.path.join(tmp, "all.safetensors")
    run(tracedump, "--export-safetensors", path, fx + "/mixed.tt")
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    check((8 + n) % 8 == 0, "data starts 8-byte aligned")
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    meta = header.pop("__metadata__")
    check(meta.get("trace.engine") == "cli_fixtures", "trace metadata copied")
    check(all(isinstance(v, str) for v in meta.values()), "metadata values are strings")
    check(len(header) == len(tensors), f"{len(header)} tensors in the header, expected {len(tensors)}")
    end = 0
    for index, name, dtype, shape, raw in tensors:
        entry = header.get(name)
        if entry is None:
            check(False, f"no tensor named {name}")
            continue
        check(entry["dtype"] == ST_DTYPE[dtype], f"{name}: dtype {entry['dtype']}")
        check(tuple(entry["shape"]) == shape, f"{name}: shape {entry['shape']}")
        b, e = entry["data_offsets"]
        check(body[b:e] == raw, f"{name}: bytes differ from the trace's")
        end = max(end, e)
        key = json.loads(meta[name])
        check(key["index"] == index and key["dtype"] == dtype, f"{name}: key metadata {key}")
        if dtype.endswith("fnuz"):
            check("FNUZ" in meta.get(name + ".note", ""), f"{name}: the fnuz note")
        if dtype == "f32":
            v = np.frombuffer(body[b:e], dtype="<f4").reshape(shape)
            check(np.array_equal(v, np.frombuffer(raw, dtype="<f4").reshape(shape), equal_nan=True), f"{name}: f32")
    check(end == len(body), "the data section is exactly the tensors")


def main():
    build = os.path.abspath(sys.argv[1])
    tracedump = os.path.join(build, "tools/tracedump/tracedump")
    with tempfile.TemporaryDirectory(prefix="tt_export_") as tmp:
        fx = os.path.join(tmp, "fx")
        run(os.path.join(build, "tests/cli/cli_fixtures"), fx)
        tensors = manifest(fx)
        check_npy(tracedump, fx, tmp, tensors)
        check_safetensors(tracedump, fx, tmp, tensors)
    print(f"{len(tensors)} tensors exported and read back; {check.failures} failure(s)")
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
