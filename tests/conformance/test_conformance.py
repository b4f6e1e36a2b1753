#!/usr/bin/python3
"""The conformance corpus (format/conformance/) against its generator, its JSON Schema and the library.

1. Regenerating the corpus gives byte-identical files (skipped, with a note, when the installed libzstd is not the
   version recorded in manifest.json: compressed frames, and with them offsets, may then differ).
2. Every expected result validates against schemas/conformance.schema.json, and the cases together exercise
   every feature the corpus must cover.
3. The library reads every file, by its footer and by scanning, exactly as the expected result says (for
   refused files: refuses it with the expected error class).
4. The valid files are standard underneath, checked without the library: walked frame by frame here, every zstd
   payload inflates with the zstd CLI to its raw_size, and every BATCH, META and FOOTER object converts to JSON
   with Debian's flatc and schemas/trace.fbs, agreeing with its frame header and the file header (skipped, with
   a note, when zstd or flatc is missing).
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import jsonschema

# What the corpus must exercise (FORMAT.md: each optional feature, each kind of damage, each refusal).
REQUIRED = [
    "absent columns", "several META frames", "unknown frame types", "unknown table fields", "minor version > 0",
    "odd shuffle sizes", "rank-0 tensors", "empty tensors", "every dtype", "multi-chunk tensors",
    "zstd checksum", "zstd without content size", "keys not given", "batch key ranges",
    "non-zero header flags and reserved", "missing footer", "truncation", "bad trailer", "damaged FOOTER frame",
    "damaged BATCH frame", "damaged BATCH under an intact footer", "damaged PAYLOAD frame", "damaged META frame",
    "damaged unknown frame", "garbage between frames", "lost records", "footer version differs",
    "content hash mismatch", "bad magic", "bad header fields", "newer major version", "zstd payload not one frame",
    "chunk checks", "dtype UNKNOWN", "empty batch", "footer without key ranges",
    "shard layout", "shard rules", "reserved shard kind", "FLOAT filter", "unknown filter", "packed records",
    "damaged PACK frame",
]

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def generated_files(root):
    """The files the generator owns under root: manifest.json and CLASS/NAME.{tt,json}."""
    out = {"manifest.json"}
    for cls in ("valid", "damaged", "refused"):
        d = os.path.join(root, cls)
        if os.path.isdir(d):
            out |= {f"{cls}/{f}" for f in os.listdir(d) if f.endswith((".tt", ".json"))}
    return out


def check_regeneration(gen, corpus):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([gen, tmp], check=True)
        have = json.load(open(os.path.join(corpus, "manifest.json")))
        fresh = json.load(open(os.path.join(tmp, "manifest.json")))
        if have["zstd_version"] != fresh["zstd_version"]:
            print(f"note: libzstd {fresh['zstd_version']} here, the corpus was generated with "
                  f"{have['zstd_version']}: byte-identical regeneration not checked")
            return
        a, b = generated_files(corpus), generated_files(tmp)
        for f in sorted(a - b):
            fail(f"{f} is in the corpus but the generator no longer writes it")
        for f in sorted(b - a):
            fail(f"the generator writes {f}, which is not committed (run gen_corpus format/conformance)")
        for f in sorted(a & b):
            if open(os.path.join(corpus, f), "rb").read() != open(os.path.join(tmp, f), "rb").read():
                fail(f"{f} differs from what the generator writes now (regenerate and commit it)")


FRAME = struct.Struct("<4sBBBBIIQQQQQ")  # FORMAT.md section 3: the 56-byte frame header
ROOTS = {2: "RecordBatch", 3: "Meta", 4: "Footer"}


def check_with_official_tools(corpus, fbs, cases):
    """Walks the frames of each valid file (FORMAT.md sections 2, 3, 8) and decodes them with zstd and flatc."""
    if not shutil.which("zstd") or not shutil.which("flatc"):
        print("note: zstd or flatc not installed: the check with the official tools is skipped")
        return
    inflated = converted = 0
    forms = [0, 0]
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            if not case.startswith("valid/"):
                continue
            data = open(os.path.join(corpus, case + ".tt"), "rb").read()
            major, minor = struct.unpack_from("<HH", data, 8)
            end = len(data) - 32 if data.endswith(b"TTRCEND\n") else len(data)
            pos, nobj = 32, 0
            while pos < end:
                magic, typ, codec, filt, elem, aux, _, seq, stored, raw, _, _ = FRAME.unpack_from(data, pos)
                if magic != b"TTFR":
                    fail(f"{case}: no frame magic at offset {pos}")
                    break
                body = data[pos + 56:pos + 56 + stored]
                if filt == 2:
                    # FLOAT (FORMAT.md section 3): header, streams (raw, or one zstd frame that the zstd CLI
                    # inflates to the stream's size), trailing bytes; the parts add up to stored_size. Form 0:
                    # elem streams of c bytes; form 1 (elem 2): c symbols, ceil(c/2) nibble bytes, K escapes
                    c = raw // elem
                    if elem == 2 and body[2] == 1:
                        sizes = [c, (c + 1) // 2, struct.unpack_from("<I", body, 8)[0]]
                        forms[1] += 1
                    else:
                        sizes = [c] * elem
                        forms[0] += 1
                    lens = struct.unpack_from(f"<{len(sizes)}I", body, 12)
                    at = 12 + 4 * len(sizes)
                    for j, (n, size) in enumerate(zip(lens, sizes)):
                        part = body[at:at + n]
                        if n < size:
                            z = subprocess.run(["zstd", "-d", "-c", "-q"], input=part, capture_output=True)
                            if z.returncode != 0 or len(z.stdout) != size:
                                fail(f"{case}: zstd -d of FLOAT stream {j} of the frame at {pos}: exit "
                                     f"{z.returncode}, {len(z.stdout)} bytes for {size}")
                            inflated += 1
                        elif n > size:
                            fail(f"{case}: FLOAT stream {j} of the frame at {pos} stores {n} bytes for {size}")
                        at += n
                    if at + raw % elem != stored:
                        fail(f"{case}: FLOAT frame at {pos}: parts add up to {at + raw % elem}, stored {stored}")
                    body = None
                elif codec == 1:
                    z = subprocess.run(["zstd", "-d", "-c", "-q"], input=body, capture_output=True)
                    if z.returncode != 0 or len(z.stdout) != raw:
                        fail(f"{case}: zstd -d of the frame at {pos}: exit {z.returncode}, {len(z.stdout)} bytes "
                             f"for raw_size {raw}")
                        body = None
                    else:
                        body = z.stdout
                        inflated += 1
                if body is not None and typ in ROOTS:
                    nobj += 1
                    obj = os.path.join(tmp, "obj.bin")
                    open(obj, "wb").write(body)
                    c = subprocess.run(["flatc", "--json", "--strict-json", "--raw-binary", "-o", tmp,
                                        "--root-type", "tt.fb." + ROOTS[typ], fbs, "--", obj], capture_output=True)
                    js = os.path.join(tmp, "obj.json")
                    if c.returncode != 0 or not os.path.exists(js):
                        fail(f"{case}: flatc cannot convert the {ROOTS[typ]} at {pos}: {c.stderr[:200]}")
                    else:
                        o = json.load(open(js))
                        converted += 1
                        os.remove(js)
                        n = max([len(v) for k, v in o.items() if isinstance(v, list) and k not in ("strings", "dims")],
                                default=0)
                        if typ == 2 and (n != aux or (n and o.get("seq", [0])[0] != seq)):
                            fail(f"{case}: BATCH at {pos}: flatc sees {n} records, the frame header says {aux}")
                        if typ == 4 and (o.get("format_major"), o.get("format_minor", 0)) != (major, minor):
                            fail(f"{case}: FOOTER says format {o.get('format_major')}.{o.get('format_minor')}, "
                                 f"the header {major}.{minor}")
                pos += 56 + stored
            if pos != end:
                fail(f"{case}: frames end at {pos}, the body at {end}")
            if nobj == 0 and case != "valid/no_records":
                fail(f"{case}: no object frame found")
    if forms[1] == 0:
        fail("no valid case has a FLOAT form 1 payload")
    print(f"official tools: {inflated} zstd payloads inflated by zstd -d, {converted} objects converted by flatc; "
          f"FLOAT payloads of form 0: {forms[0]}, form 1: {forms[1]}")


def diff(exp, got, path, out):
    """Appends to out the paths where got differs from exp."""
    if isinstance(exp, dict) and isinstance(got, dict):
        for k in sorted(set(exp) | set(got)):
            if k not in got:
                out.append(f"{path}.{k}: missing (expected {json.dumps(exp[k])[:80]})")
            elif k not in exp:
                out.append(f"{path}.{k}: unexpected {json.dumps(got[k])[:80]}")
            else:
                diff(exp[k], got[k], f"{path}.{k}", out)
    elif isinstance(exp, list) and isinstance(got, list):
        if len(exp) != len(got):
            out.append(f"{path}: {len(got)} entries, expected {len(exp)}")
        for i, (e, g) in enumerate(zip(exp, got)):
            diff(e, g, f"{path}[{i}]", out)
    elif exp != got or type(exp) is not type(got):
        out.append(f"{path}: {json.dumps(got)[:80]}, expected {json.dumps(exp)[:80]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gen", required=True)
    ap.add_argument("--dump", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--schema", required=True)
    a = ap.parse_args()

    check_regeneration(a.gen, a.corpus)

    schema = json.load(open(a.schema))
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    outcome = jsonschema.Draft7Validator({"$ref": "#/definitions/outcome", "definitions": schema["definitions"]})
    manifest = json.load(open(os.path.join(a.corpus, "manifest.json")))
    seen, classes = set(), set()
    for case in manifest["cases"]:
        cls, name = case.split("/")
        exp = json.load(open(os.path.join(a.corpus, case + ".json")))
        errs = sorted(validator.iter_errors(exp), key=lambda e: list(e.path))
        for e in errs[:3]:
            fail(f"{case}.json: {'/'.join(map(str, e.path))}: {e.message[:200]}")
        if exp["class"] != cls or exp["file"] != name + ".tt":
            fail(f"{case}.json: class {exp['class']} / file {exp['file']} do not match its place")
        seen |= set(exp["exercises"])
        classes.add(cls)
        path = os.path.join(a.corpus, case + ".tt")
        if os.path.getsize(path) != exp["file_size"]:
            fail(f"{case}.tt: {os.path.getsize(path)} bytes, expected {exp['file_size']}")
        if cls == "valid":
            r1 = dict(exp["by_footer"])
            r2 = dict(exp["by_scan"])
            if r1["records"] != r2["records"] or r1["meta"] != r2["meta"]:
                fail(f"{case}.json: a valid file must read the same by footer and by scan")

        run = subprocess.run([a.dump, path], capture_output=True, text=True)
        if run.returncode != 0:
            fail(f"{case}: conformance_dump exited {run.returncode}: {run.stderr.strip()[:300]}")
            continue
        got = json.loads(run.stdout)
        for way in ("by_footer", "by_scan"):
            for e in list(outcome.iter_errors(got[way]))[:2]:
                fail(f"{case}: the library's {way} does not fit the schema: {e.message[:200]}")
        if cls == "refused":
            for way in ("by_footer", "by_scan"):
                if got[way] != {"error": exp["error"]}:
                    fail(f"{case}: {way}: the library gives {json.dumps(got[way])[:120]}, expected refusal "
                         f"with {exp['error']}")
            continue
        for way in ("by_footer", "by_scan"):
            out = []
            diff(exp[way], got[way], way, out)
            for d in out[:8]:
                fail(f"{case}: {d}")
    check_with_official_tools(a.corpus, os.path.join(os.path.dirname(a.schema), "trace.fbs"), manifest["cases"])
    for feature in REQUIRED:
        if feature not in seen:
            fail(f"no case exercises '{feature}'")
    for cls in ("valid", "damaged", "refused"):
        if cls not in classes:
            fail(f"no {cls} case")
    print(f"{len(manifest['cases'])} cases checked, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
