#!/usr/bin/python3
"""test_shard_tools.py — the tools and tensor-parallel records: legacy JSONL lines with the shard keys
(shard_kind, shard_dim, shard_index, shard_count) import with jsonl2trace and come back out of trace2jsonl and
tracedump --list --json unchanged; the text listing shows the rank and layout of shard records only; lines of
whole tensors carry no shard key (legacy readers see the lines they always saw); lines that break a layout rule
are refused naming it; every line written validates against schemas/stage_trace.schema.json (when
python3-jsonschema is installed).

  test_shard_tools.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*argv, code=0):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode == code, f"{' '.join(argv)} exited {p.returncode}, expected {code}: {p.stderr.decode()}")
    return p.stdout.decode(), p.stderr.decode()


BASE = {"event": "stage_trace", "prompt_id": "p0", "phase": "decode0", "layer": 0, "step": 1, "pos_id": 7,
        "seq_len": 1, "hash": 1234, "min": -1.0, "max": 2.0, "mean": 0.5}
SHARDS = [
    ({"point": "q_pre_rope", "rank": 2, "dtype": "bf16", "shape": [1, 64]},
     {"shard_kind": "split", "shard_dim": 1, "shard_index": 2, "shard_count": 4}),
    ({"point": "attn_out", "rank": 1, "dtype": "bf16", "shape": [1, 256]},
     {"shard_kind": "partial", "shard_dim": -1, "shard_index": 1, "shard_count": 4}),
    ({"point": "residual_post_attn", "rank": 0, "dtype": "bf16", "shape": [1, 256]}, {}),
]
SHARD_KEYS = ("shard_kind", "shard_dim", "shard_index", "shard_count")


def main():
    build, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    tool = {n: os.path.join(build, f"tools/{n}/{n}") for n in ("trace2jsonl", "jsonl2trace", "tracedump")}
    try:
        import jsonschema
        schema = json.load(open(os.path.join(src, "schemas/stage_trace.schema.json")))
        validator = jsonschema.validators.validator_for(schema)(schema)
    except ImportError:
        validator = None
    work = tempfile.mkdtemp(prefix="tt_shard_tools_")
    lines = [dict(BASE, **key, **shard) for key, shard in SHARDS]
    src_jsonl = os.path.join(work, "tp.jsonl")
    with open(src_jsonl, "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    trace = os.path.join(work, "tp.tt")
    run(tool["jsonl2trace"], "--strict", "-q", src_jsonl, "-o", trace)

    out, _ = run(tool["trace2jsonl"], "--extra", trace)
    got = [json.loads(l) for l in out.splitlines()]
    check(len(got) == 3, f"three lines back: {out}")
    for want, line in zip(lines, got):
        for k in SHARD_KEYS:
            check(line.get(k) == want.get(k), f"{want['point']}: {k} {line.get(k)!r}, expected {want.get(k)!r}")
        check(line["rank"] == want["rank"], f"{want['point']}: rank {line['rank']}")
        if validator:
            errs = list(validator.iter_errors(line))
            check(not errs, f"{want['point']}: schema: {[e.message for e in errs]}")
    plain, _ = run(tool["trace2jsonl"], trace)
    whole = json.loads(plain.splitlines()[2])
    check(not any(k in whole for k in SHARD_KEYS) and "rank" not in whole, f"a whole tensor's line: {whole}")
    check(json.loads(plain.splitlines()[0]).get("shard_kind") == "split", "shard keys without --extra too")

    listing, _ = run(tool["tracedump"], "--list", "--json", trace)
    rows = [json.loads(l) for l in listing.splitlines()]
    check([r.get("shard_index") for r in rows] == [2, 1, None], f"tracedump --list --json: {rows}")
    text, _ = run(tool["tracedump"], "--list", trace)
    tl = text.splitlines()
    check(tl[1].endswith("rank 2 split dim 1: 2/4"), f"text listing of a split shard: {tl[1]!r}")
    check(tl[2].endswith("rank 1 partial 1/4"), f"text listing of a partial sum: {tl[2]!r}")
    check("rank" not in tl[3], f"text listing of a whole tensor on rank 0: {tl[3]!r}")

    bad = [
        ({"shard_kind": "split", "shard_dim": 1, "shard_index": 4, "shard_count": 4, "dtype": "f32",
          "shape": [1, 8]}, "shard_index 4 outside 0..3"),
        ({"shard_kind": "split", "shard_dim": 1, "shard_index": 0, "shard_count": 4}, "needs the \"shape\""),
        ({"shard_dim": 1, "shard_index": 0, "shard_count": 4}, "need \"shard_kind\""),
        ({"shard_kind": "sideways", "shard_index": 0, "shard_count": 4}, "is not none, split or partial"),
        ({"shard_kind": "partial", "shard_dim": 0, "shard_index": 0, "shard_count": 2}, "PARTIAL sum has shard_dim 0"),
    ]
    for i, (extra, words) in enumerate(bad):
        path = os.path.join(work, f"bad{i}.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps(dict(BASE, point="x", **extra)) + "\n")
        _, err = run(tool["jsonl2trace"], "--strict", path, "-o", os.path.join(work, f"bad{i}.tt"), code=2)
        check(words in err and f"bad{i}.jsonl:1" in err, f"refused line {i}: {err!r} lacks {words!r}")
        check(not os.path.exists(os.path.join(work, f"bad{i}.tt")), f"bad{i}: no output left behind")
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
