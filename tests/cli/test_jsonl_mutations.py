#!/usr/bin/python3
"""test_jsonl_mutations.py — jsonl2trace on hostile input: thousands of lines of the legacy sample with bytes
flipped, inserted, deleted and cut (seeded, so every run is the same), plus deep nesting and huge tokens. The tool
must never crash (in the sanitizer build, never trip ASan/UBSan): it exits 0 or 2, every bad line is named by its
number, and every line it keeps converts back to valid JSON.

  test_jsonl_mutations.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import random
import subprocess
import sys
import tempfile


def mutate(line, rng):
    b = bytearray(line.encode())
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        i = rng.randrange(len(b)) if b else 0
        if op == 0 and b:
            b[i] = rng.randrange(256)
        elif op == 1:
            b.insert(i, rng.choice(b'{}[]",:\\0123456789-.eE+ntfuNI\x00\xff'))
        elif op == 2 and b:
            del b[i]
        elif op == 3:
            b = b[:i]
        else:
            b[i:i] = rng.choice([b'\\u', b'\\ud83d', b'"', b'NaN', b'-Infinity', b'1e999', b'[' * 100])
    return bytes(b).replace(b"\n", b" ")


def main():
    build, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    j2t = os.path.join(build, "tools/jsonl2trace/jsonl2trace")
    t2j = os.path.join(build, "tools/trace2jsonl/trace2jsonl")
    lines = open(os.path.join(src, "samples/legacy/b3_66_sample.jsonl")).read().splitlines()
    rng = random.Random(20260207)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="tt_mut_") as tmp:
        data = [mutate(rng.choice(lines), rng) for _ in range(3000)]
        data += [b"[" * 100000, b'{"a": ' + b"[" * 70 + b"]" * 70 + b"}", b'{"event": "' + b"x" * 200000 + b'"}',
                 b'{"event": "stage_trace", "min": ' + b"1" * 1000 + b"}", b"\x00\x00{}", b"{}", b'{"":1}']
        path = os.path.join(tmp, "mutated.jsonl")
        with open(path, "wb") as f:
            f.write(b"\n".join(data) + b"\n")
        out = os.path.join(tmp, "m.tt")
        p = subprocess.run([j2t, path, "-o", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode not in (0, 2) or "runtime error" in err or "Sanitizer" in err:
            failures += 1
            print(f"FAIL: jsonl2trace exited {p.returncode}\n{err[-3000:]}")
        if p.returncode == 0:
            back = subprocess.run([t2j, out], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            kept = back.stdout.decode().splitlines()
            for line in kept:
                json.loads(line)
            print(f"{len(data)} hostile lines: {len(kept)} kept as records; {err.splitlines()[-1]}")
        p = subprocess.run([j2t, "--strict", path, "-o", out + "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode != 2 or "runtime error" in err or "Sanitizer" in err or ":1" not in err:
            failures += 1
            print(f"FAIL: --strict exited {p.returncode}\n{err[-3000:]}")
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
