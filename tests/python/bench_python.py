#!/usr/bin/env python3
"""
bench_python.py — the Python package against the C library on the same bytes (numbers in BENCHMARKS.md):

  put   one bf16 torch tensor (default 64 MiB) with tt.Writer.put, against bench_put_ref doing tt_put() in C on
        the same bytes: the put call alone (the copy the caller waits for) and the whole write (open, put,
        close: hashing, shuffling and compression included). Same options both sides (threads, level 1, defaults).
  read  every tensor of a trace written by tracebench (default 1 GiB, bf16) into NumPy, against tracebench's own
        read throughput on that file (tt_reader_open over every tt_reader_read, every byte checked): raw bits
        (numpy(raw=True), the same bytes tracebench reads) and float32 values (numpy(), converted by the library).

Rounds are interleaved (C, then Python) and medians reported, because other work on a shared machine moves wall
times from one run to the next. GB/s are 10^9 tensor bytes per second.

usage: bench_python.py [--build DIR] [--dir DIR] [--put-mib N] [--read-size SIZE] [--rounds N] [--threads N]
                       [--json] [--smoke]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "python"))
import numpy as np  # noqa: E402

import tensortrace as tt  # noqa: E402


def bf16_tensor(mib, seed=1):
    """[rows, 4096] bf16 of N(0,1) values: as a torch tensor when torch imports, else NumPy bits."""
    rows = max(1, (mib << 20) // (4096 * 2))
    try:
        import torch
        g = torch.Generator().manual_seed(seed)
        t = torch.randn(rows, 4096, generator=g).to(torch.bfloat16)
        return t, t.view(torch.int16).numpy().tobytes(), "torch.bfloat16"
    except ImportError:
        f = np.random.default_rng(seed).standard_normal((rows, 4096)).astype(np.float32)
        bits = (f.view(np.uint32) >> 16).astype(np.uint16)
        return bits, bits.tobytes(), "numpy uint16 bits, dtype='bf16'"


def bench_put(build, work, mib, rounds, threads):
    x, raw, kind = bf16_tensor(mib)
    rows = len(raw) // (4096 * 2)
    rawf = os.path.join(work, "put.raw")
    with open(rawf, "wb") as f:
        f.write(raw)
    ref = os.path.join(build, "tests", "python", "bench_put_ref")
    dtype = None if kind.startswith("torch") else "bf16"
    c_put, c_total, py_put, py_total = [], [], [], []
    for _ in range(3):  # blocks: C rounds, then Python rounds
        out = subprocess.run([ref, rawf, os.path.join(work, "put_c.tt"), str(rows), "4096", str(rounds),
                              str(threads)], capture_output=True, text=True, check=True).stdout
        for p, t in json.loads(out)["put_s"]:
            c_put.append(p)
            c_total.append(t)
        for _ in range(rounds):
            w = tt.Writer(os.path.join(work, "put_py.tt"), overwrite=True, threads=threads)
            t0 = time.perf_counter()
            w.put(x, point="x", layer=0, dtype=dtype)
            t1 = time.perf_counter()
            w.close()
            t2 = time.perf_counter()
            py_put.append(t1 - t0)
            py_total.append(t2 - t0)
    med = statistics.median
    return {"bytes": len(raw), "tensor": kind, "threads": threads, "rounds": len(py_put),
            "c_put_s": med(c_put), "py_put_s": med(py_put), "put_ratio": med(py_put) / med(c_put),
            "c_write_s": med(c_total), "py_write_s": med(py_total), "write_ratio": med(py_total) / med(c_total)}


def read_all(path, raw):
    n = 0
    t0 = time.perf_counter()
    with tt.open(path) as t:
        for rec in t:
            rec.numpy(raw=raw)
            n += rec.nbytes
    return n, time.perf_counter() - t0


def bench_read(build, work, size, rounds, threads):
    tb = os.path.join(build, "tools", "tracebench", "tracebench")
    path = os.path.join(work, "read.tt")
    c, raw, val = [], [], []
    info = {}
    for _ in range(rounds):
        out = subprocess.run([tb, "--size", size, "--threads", str(threads), "--out", path, "--json"],
                             capture_output=True, text=True, check=True).stdout
        info = json.loads(out)
        c.append(info["read_gbps"])
        n, s = read_all(path, raw=True)
        assert n == info["total_bytes"], (n, info["total_bytes"])
        raw.append(n / s / 1e9)
        n, s = read_all(path, raw=False)
        val.append(n / s / 1e9)
    med = statistics.median
    return {"tensor_bytes": info["total_bytes"], "file_bytes": info["file_bytes"], "records": info["records_read"],
            "dtype": info["dtype"], "rounds": rounds, "tracebench_read_gbps": med(c),
            "py_raw_gbps": med(raw), "raw_ratio": med(raw) / med(c), "py_values_gbps": med(val),
            "values_ratio": med(val) / med(c)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build"), help="the build tree (tools, bench_put_ref)")
    ap.add_argument("--dir", help="where the traces go (default a temporary directory; tmpfs measures the CPU)")
    ap.add_argument("--put-mib", type=int, default=64)
    ap.add_argument("--read-size", default="1G", help="tracebench --size of the read benchmark's trace")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one round: checks the script runs")
    a = ap.parse_args()
    if a.smoke:
        a.put_mib, a.read_size, a.rounds = 1, "8M", 1
    with tempfile.TemporaryDirectory(dir=a.dir) as work:
        res = {"library": tt.library_path, "put": bench_put(a.build, work, a.put_mib, a.rounds, a.threads),
               "read": bench_read(a.build, work, a.read_size, a.rounds, a.threads)}
    if a.json:
        print(json.dumps(res))
        return 0
    p, r = res["put"], res["read"]
    print(f"put {p['bytes'] / 2**20:.0f} MiB ({p['tensor']}), {p['threads']} threads, median of {p['rounds']}:")
    print(f"  put call     C {p['c_put_s'] * 1e3:8.2f} ms   Python {p['py_put_s'] * 1e3:8.2f} ms   "
          f"ratio {p['put_ratio']:.3f}  (target <= 1.2)")
    print(f"  whole write  C {p['c_write_s'] * 1e3:8.2f} ms   Python {p['py_write_s'] * 1e3:8.2f} ms   "
          f"ratio {p['write_ratio']:.3f}")
    print(f"read {r['tensor_bytes'] / 2**30:.2f} GiB of {r['dtype']} ({r['records']} tensors), median of "
          f"{r['rounds']}: tracebench {r['tracebench_read_gbps']:.3f} GB/s")
    print(f"  numpy(raw=True) {r['py_raw_gbps']:.3f} GB/s  ratio {r['raw_ratio']:.3f}  (target >= 0.8)")
    print(f"  numpy() float32 {r['py_values_gbps']:.3f} GB/s  ratio {r['values_ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
