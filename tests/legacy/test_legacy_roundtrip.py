#!/usr/bin/python3
"""test_legacy_roundtrip.py — the legacy JSONL bridge, both ways, on samples/legacy/b3_66_sample.jsonl:

  1. jsonl2trace then trace2jsonl gives back the same records: same order, same fields, same values, compared
     as parsed JSON with integers exact (the hashes are above 2^53), and in fact the same bytes;
  2. the imported records are what jsonl2trace documents: hash/stats-only, no dtype or shape, absmax/l2 zero,
     seq = line number (checked through tracedump --list --json);
  3. the other way: a captured trace (cli_fixtures) through trace2jsonl --extra, jsonl2trace and trace2jsonl
     --extra again gives the same lines; so does a file with unknown fields and other events (which are
     dropped) and a file read from standard input;
  4. --strict accepts the sample, and a line broken in the middle of the sample is reported with its number.

  test_legacy_roundtrip.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checks import check  # noqa: E402


def run(*argv, stdin=None, code=0):
    p = subprocess.run(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != code:
        sys.exit(f"{' '.join(argv)} exited {p.returncode} (expected {code}): {p.stderr.decode()}")
    return p.stdout.decode(), p.stderr.decode()


def parse_lines(text):
    # Python's json keeps integers exact: 10153995460507501903 stays that integer
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main():
    build, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    tool = lambda name: os.path.join(build, "tools", name, name)
    j2t, t2j, td = tool("jsonl2trace"), tool("trace2jsonl"), tool("tracedump")
    sample = os.path.join(src, "samples/legacy/b3_66_sample.jsonl")
    original = open(sample).read()
    with tempfile.TemporaryDirectory(prefix="tt_legacy_") as tmp:
        tt = os.path.join(tmp, "sample.tt")
        # 1. legacy -> trace -> legacy
        _, err = run(j2t, sample, "-o", tt)
        check(err == "", f"jsonl2trace on the sample warns: {err}")
        back, _ = run(t2j, tt)
        a, b = parse_lines(original), parse_lines(back)
        check(len(a) == len(b) == 282, f"{len(a)} records in, {len(b)} out")
        for n, (x, y) in enumerate(zip(a, b), 1):
            if x != y or list(x) != list(y):
                check(False, f"line {n} differs:\n  in  {x}\n  out {y}")
                break
        check(back == original, "the round trip is byte-identical")
        hashes = {r["hash"] for r in b}
        check(4144761570523161186 in hashes and 10153995460507501903 in hashes, "the seed hashes, exact")
        check(any(r["hash"] > 2 ** 53 for r in b), "hashes above 2^53 survive")
        # 2. what an imported record is
        listing, _ = run(td, "--list", "--json", tt)
        recs = parse_lines(listing)
        check(all(r["payload"] is False and r["dtype"] == "unknown" and r["shape"] == [] for r in recs),
              "imported records have no tensor, dtype or shape")
        check(all(r["absmax"] == 0 and r["l2"] == 0 and r["nan_count"] == 0 for r in recs), "absmax/l2 are zero")
        check([r["seq"] for r in recs] == list(range(1, 283)), "seq is the line number")
        # 3. trace -> legacy -> trace -> legacy, with the extra fields
        fx = os.path.join(tmp, "fx")
        subprocess.run([os.path.join(build, "tests/cli/cli_fixtures"), fx], check=True)
        first, _ = run(t2j, "--extra", fx + "/mixed.tt")
        with open(os.path.join(tmp, "mixed.jsonl"), "w") as f:
            f.write(first)
        run(j2t, os.path.join(tmp, "mixed.jsonl"), "-o", os.path.join(tmp, "mixed2.tt"))
        second, _ = run(t2j, "--extra", os.path.join(tmp, "mixed2.tt"))
        check(parse_lines(first) == parse_lines(second) and first == second, "trace -> jsonl -> trace -> jsonl")
        # unknown fields and other events are dropped, the records stay; standard input works
        noisy = os.path.join(tmp, "noisy.jsonl")
        with open(noisy, "w") as f:
            f.write('{"event": "run_start", "host": "mi300x"}\n')
            for line in original.splitlines():
                f.write(line[:-1] + ', "gpu": 0, "extra": {"nested": [1, {"deep": null}]}}\n')
        with open(noisy) as stdin:
            _, err = run(j2t, "-o", os.path.join(tmp, "noisy.tt"), stdin=stdin)
        check('ignored unknown fields "gpu" (282 lines), "extra" (282 lines)' in err, f"unknown-field note: {err}")
        check("skipped 1 line whose event is not \"stage_trace\"" in err, f"other-event note: {err}")
        again, _ = run(t2j, os.path.join(tmp, "noisy.tt"))
        check(again == original, "unknown fields and other events do not change the records")
        # 4. --strict
        run(j2t, "--strict", sample, "-o", os.path.join(tmp, "strict.tt"))
        broken = os.path.join(tmp, "broken.jsonl")
        lines = original.splitlines(True)
        lines[99] = lines[99].replace('"hash": ', '"hash" ')
        with open(broken, "w") as f:
            f.writelines(lines)
        _, err = run(j2t, "--strict", broken, "-o", os.path.join(tmp, "broken.tt"), code=2)
        check(f"{broken}:100:" in err and "expected ':'" in err, f"--strict names line 100: {err}")
        check(not os.path.exists(os.path.join(tmp, "broken.tt")), "--strict leaves no output")
        _, err = run(j2t, broken, "-o", os.path.join(tmp, "broken.tt"))
        check("skipped 1 bad line of 282 (first: line 100); 281 records written" in err, f"default mode: {err}")
    print(f"legacy round trips: {check.failures} failure(s)")
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
