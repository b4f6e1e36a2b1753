#!/usr/bin/env bash
# test_fb_flatc.sh — interop of format/fb.c with the official FlatBuffers compiler, both ways:
#  1. buffers built by fb.c (a tt.fb.Footer and a tt.fb.Meta, by fb_flatc_helper) are converted to JSON by
#     `flatc --json` and must hold exactly the values the helper wrote; flatc re-encodes that JSON and fb.c must
#     read back the same values;
#  2. a Footer written by hand as JSON is built by `flatc -b` and must verify and read back in fb.c.
#
# usage: test_fb_flatc.sh HELPER SOURCE_DIR
# Exit status: 0 on success, 1 on a failure (with a message saying which step), 77 (skip) without flatc or python3.
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 HELPER SOURCE_DIR" >&2
  exit 2
fi
helper=$1
schema=$2/schemas/trace.fbs
py=/usr/bin/python3

if ! command -v flatc >/dev/null 2>&1; then
  echo "SKIP: flatc not found (Debian package flatbuffers-compiler)"
  exit 77
fi
if [ ! -x "$py" ]; then
  echo "SKIP: $py not found"
  exit 77
fi
[ -x "$helper" ] || { echo "FAIL: helper '$helper' is not an executable" >&2; exit 1; }
[ -f "$schema" ] || { echo "FAIL: schema '$schema' not found" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Compares a JSON file (flatc's output) or a helper printout with what is expected. Python for exact integers
# (64-bit values beyond 2^53) and proper JSON string decoding.
check() {
  "$py" - "$@" <<'PY' || fail "$1 of $2: content differs (see above)"
import json, re, sys

mode, path = sys.argv[1], sys.argv[2]

U64_MAX = 18446744073709551615
NOTE = 'quote " backslash \\ tab\t \u00e9t\u00e9'
ENTRIES = [{"key": "model", "value": "tinylm"}, {"key": "note", "value": NOTE}]
FOOTER = {
    "format_major": 1, "format_minor": 3, "writer": "tensortrace 0.1.0",
    "created_ns": 1700000000123456789, "closed_ns": 1700000001000000000, "chunk_bytes": 1048576,
    "record_count": 42, "meta": ENTRIES, "strings": ["p6_len_16", "prefill_last", "attn_out", ""],
    "batches": {"offset": [64, 8192], "frame_size": [100, 200], "first_record": [0, 21],
                "record_count": [21, 21], "seq_min": [1, 22], "seq_max": [21, 42], "layer_min": [-1, 0],
                "layer_max": [3, 3], "step_min": [0, 1], "step_max": [0, 5], "pos_min": [-1, 16],
                "pos_max": [15, 20]},
    "frames": {"offset": [16, 32, 48], "type": ["PAYLOAD", "PAYLOAD", "META"]},
    "counters": {"puts": 50, "filtered": 3, "dropped": 5, "written": 42, "bytes_raw": 9007199254740993,
                 "bytes_stored": U64_MAX, "payload_frames": 42, "batches": 2, "file_bytes": 123456,
                 "errors": 0},
}
# The hand-written Footer of step 2 and what the helper must print for it (absent fields print nothing).
HAND_LINES = {
    "format_major": "2", "format_minor": "7", "writer": "flatc by hand \u2713",
    "created_ns": str(U64_MAX), "record_count": "3",
    "meta.count": "1", "meta[0].key": "k\\\\ey", "meta[0].value": "",
    "strings.count": "3", "strings[0]": "a", "strings[1]": "", "strings[2]": "tab\\x09end",
    "batches.layer_min": "-2147483648,2147483647,-1", "batches.record_count": "4294967295",
    "batches.offset": "",
    "frames.type": "4,0,2",
    "counters.puts": "1", "counters.errors": "9223372036854775808",
}


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def diff(got, want, where=""):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            fail(f"{where or 'root'}: expected an object, got {got!r}")
        for k in sorted(set(got) | set(want)):
            if k not in got:
                fail(f"{where}{k}: missing (expected {want[k]!r})")
            if k not in want:
                fail(f"{where}{k}: unexpected (value {got[k]!r})")
            diff(got[k], want[k], f"{where}{k}.")
    elif got != want or type(got) is not type(want):
        fail(f"{where.rstrip('.')}: got {got!r}, expected {want!r}")


def printout(p):
    """The helper's "path=value" lines as a dict (size dropped), values as printed (escapes kept)."""
    out = {}
    for line in open(p, encoding="utf-8").read().splitlines():
        k, _, v = line.partition("=")
        if k != "size":
            out[k] = v
    return out


if mode == "footer-json":
    diff(json.load(open(path, encoding="utf-8")), FOOTER)
elif mode == "meta-json":
    diff(json.load(open(path, encoding="utf-8")), {"entries": ENTRIES})
elif mode == "hand-printout":
    diff(printout(path), HAND_LINES)
elif mode == "same-printout":
    # flatc -b leaves out scalars equal to their default (fb.c always writes them): absent reads as 0
    got, want = printout(path), printout(sys.argv[3])
    for k, v in want.items():
        if v == "0" and k not in got:
            got[k] = v
    diff(got, want)
else:
    fail("unknown check " + mode)
PY
}

# ---- 1. fb.c -> flatc --json ---------------------------------------------------------------------------------
"$helper" write-footer "$tmp/footer.bin" || fail "helper write-footer"
"$helper" write-meta "$tmp/meta.bin" || fail "helper write-meta"

flatc --json --strict-json --raw-binary --root-type tt.fb.Footer -o "$tmp" "$schema" -- "$tmp/footer.bin" \
  || fail "flatc --json could not convert the Footer built by fb.c"
[ -f "$tmp/footer.json" ] || fail "flatc --json wrote no $tmp/footer.json"
check footer-json "$tmp/footer.json"

flatc --json --strict-json --raw-binary --root-type tt.fb.Meta -o "$tmp" "$schema" -- "$tmp/meta.bin" \
  || fail "flatc --json could not convert the Meta built by fb.c"
check meta-json "$tmp/meta.json"

# Without --raw-binary flatc insists on the schema's file identifier: fb.c must have written "TTR1".
mkdir "$tmp/ident"
flatc --json --strict-json --root-type tt.fb.Footer -o "$tmp/ident" "$schema" -- "$tmp/footer.bin" \
  || fail "flatc rejected the file identifier of the Footer built by fb.c"
cmp -s "$tmp/footer.json" "$tmp/ident/footer.json" || fail "flatc output differs with and without --raw-binary"

# flatc re-encodes its JSON (with its own layout); fb.c must read the same values back.
mkdir "$tmp/re"
flatc -b --root-type tt.fb.Footer -o "$tmp/re" "$schema" "$tmp/footer.json" || fail "flatc -b of footer.json"
"$helper" read-footer "$tmp/footer.bin" >"$tmp/own.txt" || fail "helper read-footer of its own buffer"
"$helper" read-footer "$tmp/re/footer.ttr" >"$tmp/re.txt" || fail "helper read-footer of flatc's re-encoding"
check same-printout "$tmp/re.txt" "$tmp/own.txt"

# ---- 2. hand-written JSON -> flatc -b -> fb.c ---------------------------------------------------------------
# batches.offset is an empty vector of ulong (8-byte aligned elements); frames.type an enum vector; counters
# sparse (absent fields must stay absent); extreme int and ulong values.
cat >"$tmp/hand.json" <<'JSON'
{
  "format_major": 2,
  "format_minor": 7,
  "writer": "flatc by hand \u2713",
  "created_ns": 18446744073709551615,
  "record_count": 3,
  "meta": [ { "key": "k\\ey", "value": "" } ],
  "strings": [ "a", "", "tab\tend" ],
  "batches": { "offset": [], "record_count": [4294967295], "layer_min": [-2147483648, 2147483647, -1] },
  "frames": { "type": ["FOOTER", "INVALID", "BATCH"] },
  "counters": { "puts": 1, "errors": 9223372036854775808 }
}
JSON
mkdir "$tmp/hand"
flatc -b --root-type tt.fb.Footer -o "$tmp/hand" "$schema" "$tmp/hand.json" || fail "flatc -b of the hand-written Footer"
[ -f "$tmp/hand/hand.ttr" ] || fail "flatc -b wrote no $tmp/hand/hand.ttr"
"$helper" read-footer "$tmp/hand/hand.ttr" >"$tmp/hand.txt" || fail "fb.c does not verify flatc's Footer"
check hand-printout "$tmp/hand.txt"

# And a Meta built by flatc.
echo '{ "entries": [ { "key": "model", "value": "tinylm" }, { "key": "x" } ] }' >"$tmp/m.json"
flatc -b --root-type tt.fb.Meta -o "$tmp/hand" "$schema" "$tmp/m.json" || fail "flatc -b of a Meta"
"$helper" read-meta "$tmp/hand/m.ttr" >"$tmp/m.txt" || fail "fb.c does not verify flatc's Meta"
grep -qx 'entries.count=2' "$tmp/m.txt" && grep -qx 'entries\[1\].key=x' "$tmp/m.txt" \
  && ! grep -q '^entries\[1\].value' "$tmp/m.txt" || { cat "$tmp/m.txt" >&2; fail "Meta built by flatc reads wrong"; }

echo "PASS: fb.c and flatc agree"
