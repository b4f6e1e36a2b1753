#!/usr/bin/python3
"""Interop of trace files with the official tools.

  1. `zstd -d` inflates a PAYLOAD frame cut out of a file we wrote, and the bytes equal the tensor's chunk,
     byte-shuffled (the shuffle is re-implemented here, independently of the C code).
  2. Debian's `flatc` converts the BATCH and FOOTER objects of that file to JSON with schemas/trace.fbs, and the
     JSON says what was written.
  3. A RecordBatch and a Footer built by `flatc -b` from hand-written JSON, wrapped in frames, are read by our
     reader with the values the JSON gave.

Usage: test_trace_interop.py TRACE_TOOL SOURCE_DIR. Exit 0 pass, 1 fail, 77 skip (flatc or zstd missing).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

tool, src = sys.argv[1], sys.argv[2]
schema = os.path.join(src, "schemas", "trace.fbs")
for prog in ("flatc", "zstd"):
    if not shutil.which(prog):
        print(f"SKIP: {prog} not installed")
        sys.exit(77)

work = tempfile.mkdtemp(prefix="tt_interop_")
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def run(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, **kw).stdout


def path(name):
    return os.path.join(work, name)


def frames(trace):
    out = []
    for line in run(tool, "frames", trace).decode().splitlines():
        off, typ, codec, filt, elem, stored, raw, aux, seq = line.split()
        out.append(dict(off=int(off), type=typ, codec=int(codec), filter=int(filt), elem=int(elem),
                        stored=int(stored), raw=int(raw), aux=int(aux), seq=int(seq)))
    return out


def payload_of(data, fr):
    """The frame's decoded payload, inflated by the zstd CLI when compressed."""
    start = fr["off"] + 56
    blob = data[start:start + fr["stored"]]
    if fr["codec"] == 0:
        return blob
    name = path(f"frame_{fr['off']}.zst")
    with open(name, "wb") as f:
        f.write(blob)
    return run("zstd", "-d", "-q", "-c", name)


def flatc_json(binary, root):
    outdir = path("json")
    os.makedirs(outdir, exist_ok=True)
    run("flatc", "--json", "--strict-json", "--raw-binary", "--root-type", root, "-o", outdir, schema, "--", binary)
    with open(os.path.join(outdir, os.path.splitext(os.path.basename(binary))[0] + ".json")) as f:
        return json.load(f)


def shuffle(b, es):
    n = len(b) // es
    return b"".join(bytes(b[j::es][:n]) for j in range(es)) + b[n * es:]


# ---- 1 and 2: our file, official tools ---------------------------------------------------------------------
trace, raw_path, shuf_path = path("t.tt"), path("raw.bin"), path("shuf.bin")
run(tool, "write", trace, raw_path, shuf_path)
data = open(trace, "rb").read()
raw = open(raw_path, "rb").read()
fr = frames(trace)
payloads = [f for f in fr if f["type"] == "PAYLOAD"]
check(len(payloads) == 4, f"4 payload frames (2 tensors x 2 chunks), got {len(payloads)}")
p0 = payloads[0]
check(p0["codec"] == 1 and p0["filter"] == 1 and p0["elem"] == 2, f"first payload is zstd + shuffle(2): {p0}")
inflated = payload_of(data, p0)
check(inflated == open(shuf_path, "rb").read(), "zstd -d of payload frame 0 equals the C shuffle of chunk 0")
check(inflated == shuffle(raw[:65536], 2), "zstd -d of payload frame 0 equals the Python shuffle of chunk 0")
check(payload_of(data, payloads[1]) == shuffle(raw[65536:], 2), "chunk 1 likewise")
check(payloads[1]["aux"] == 1 and payloads[0]["seq"] == payloads[1]["seq"], "chunk index and seq in headers")

batch_fr = [f for f in fr if f["type"] == "BATCH"]
check(len(batch_fr) == 1, "one batch frame")
open(path("batch.bin"), "wb").write(payload_of(data, batch_fr[0]))
b = flatc_json(path("batch.bin"), "tt.fb.RecordBatch")
names = b["strings"]
check([names[i] for i in b["point"]] == ["attn_out", "mlp_out"], f"points via dictionary: {b.get('point')}")
check([names[i] for i in b["prompt_id"]] == ["p0_short"] * 2, "prompt ids via dictionary")
check([names[i] for i in b["phase"]] == ["prefill_last"] * 2, "phases via dictionary")
check(b["dtype"] == ["BF16", "BF16"], f"dtype enum names: {b.get('dtype')}")
check(b["dims"] == [64, 1024, 64, 1024] and b["ndim"] == [2, 2], "shapes")
check(b["layer"] == [3, 3] and b["pos_id"] == [37, 37] and b["rows"] == [64, 64], "key columns")
check(b["payload_offset"][0] == payloads[0]["off"] and b["payload_frames"] == [2, 2], "payload location")
check(b["flags"] == [7, 7], "flags payload|hash|stats")
dump = run(tool, "dump", trace).decode()
hashes = [int(tok.split("=")[1]) for tok in dump.split() if tok.startswith("hash=")]
check(b["hash"] == hashes, f"hash column equals the reader's hashes: {b.get('hash')} vs {hashes}")
check(b["counters"]["written"] == 2, "counters snapshot in the batch")

footer_fr = [f for f in fr if f["type"] == "FOOTER"]
check(len(footer_fr) == 1 and footer_fr[0] is fr[-1], "footer is the last frame")
trailer = data[-32:]
check(trailer[24:] == b"TTRCEND\n", "trailer magic")
check(struct.unpack("<QQ", trailer[:16]) == (footer_fr[0]["off"], 56 + footer_fr[0]["stored"]),
      "trailer points at the footer")
open(path("footer.bin"), "wb").write(payload_of(data, footer_fr[0]))
ft = flatc_json(path("footer.bin"), "tt.fb.Footer")
check(ft["format_major"] == 1 and ft["record_count"] == 2, "footer version and record count")
meta = {kv["key"]: kv["value"] for kv in ft["meta"]}
check(meta == {"engine": "interop", "model": 'tiny "quoted"'}, f"footer metadata: {meta}")
check(ft["batches"]["offset"] == [batch_fr[0]["off"]], "batch index offset")
check(ft["batches"]["record_count"] == [2] and ft["batches"]["layer_min"] == [3], "batch index counts, ranges")
indexed = dict(zip(ft["frames"]["offset"], ft["frames"]["type"]))
check(all(indexed.get(p["off"]) == "PAYLOAD" for p in payloads), "every payload frame in the frame index")
check("META" in indexed.values(), "meta frame in the frame index")
check(ft["counters"]["payload_frames"] == 4 and ft["counters"]["bytes_raw"] == 2 * len(raw), "footer counters")

# ---- 3: flatc's objects, our reader ---------------------------------------------------------------------------
tensor = struct.pack("<6f", 1.0, -2.5, 3.25, 0.0, 1e-3, -7.0)
open(path("p.bin"), "wb").write(tensor)
batch_json = {
    "first_record": 0, "chunk_bytes": 4096,
    "strings": ["attn_out", "p6_len_16", "decode0", "q_post_rope"],
    "seq": [5, 6, 7], "time_ns": [1, 2, 3],
    "point": [0, 0, 3], "prompt_id": [1, 1, 1], "phase": [2, 2, 2],
    "layer": [0, 0, 8], "step": [1, 1, 1], "token_id": [99, 99, 99], "logical_tok_idx": [16, 16, 16],
    "pos_id": [16, 16, 16], "rows": [1, 1, 1],
    "dtype": ["F32", "UNKNOWN", "UNKNOWN"], "ndim": [2, 0, 0], "dims": [2, 3],
    "flags": [5, 6, 2], "hash": [0, 18446744073709551615, 9007199254740993],
    "stat_min": [-7.0, -1.5, 0], "stat_max": [3.25, 2.5, 0], "stat_mean": [-0.874833, 0.125, 0],
    "payload_offset": [32, 0, 0], "payload_frames": [1, 0, 0], "payload_stored": [24, 0, 0],
}
json.dump(batch_json, open(path("hb.json"), "w"))
run("flatc", "-b", "--root-type", "tt.fb.RecordBatch", "-o", work, schema, path("hb.json"))
hb = path("hb.ttr")
batch_off = 32 + 56 + len(tensor)
footer_json = {
    "format_major": 1, "format_minor": 1, "writer": "flatc by hand", "record_count": 3, "chunk_bytes": 4096,
    "meta": [{"key": "engine", "value": "handmade"}], "strings": ["attn_out", "p6_len_16", "decode0", "q_post_rope"],
    "batches": {"offset": [batch_off], "first_record": [0], "record_count": [3]},
    "frames": {"offset": [32], "type": ["PAYLOAD"]},
}
json.dump(footer_json, open(path("hf.json"), "w"))
run("flatc", "-b", "--root-type", "tt.fb.Footer", "-o", work, schema, path("hf.json"))
assembled = path("handmade.tt")
out = run(tool, "assemble", assembled, f"payload:{path('p.bin')}:0:5", f"batch:{hb}:3:5",
          f"footer:{path('hf.ttr')}").decode()
check(f"batch {batch_off}" in out, f"frames where the footer says: {out}")
dump = run(tool, "dump", assembled).decode().splitlines()
check(dump[0] == "format 1.1 records 3 footer 1", f"opened by the footer: {dump[0]}")
check("meta engine=handmade" in dump, "metadata from the flatc footer")
rec = [l for l in dump if l.startswith("record ")]
check(len(rec) == 3, "three records")
check("point=attn_out" in rec[0] and "dtype=f32 shape=[2,3]" in rec[0] and "flags=5" in rec[0], rec[0])
check("data_hex=" + tensor.hex() in rec[0], "tensor bytes read from a flatc-described record")
check("hash=18446744073709551615" in rec[1] and "dtype=unknown" in rec[1], rec[1])
check("point=q_post_rope" in rec[2] and "layer=8" in rec[2] and "hash=9007199254740993" in rec[2], rec[2])
check("min=-1.5 max=2.5 mean=0.125" in rec[1], rec[1])

shutil.rmtree(work)
print("interop: %s" % ("FAILED" if failures else "ok"))
sys.exit(1 if failures else 0)
