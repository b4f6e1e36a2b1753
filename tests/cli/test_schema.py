#!/usr/bin/python3
"""test_schema.py — validates real trace2jsonl output against schemas/stage_trace.schema.json with a real JSON
Schema validator (Debian's python3-jsonschema, Draft 2020-12): the default and --extra lines of the fixture
trace (every dtype, stats-only and hash-only records, NaN/Inf statistics), --nan-as-null, tracedump --list --json,
and the legacy sample converted both ways. Also checks that the schema rejects lines it must reject.

  test_schema.py BUILD_DIR SOURCE_DIR
Skips (exit 77) only when the jsonschema module is missing.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is not installed: skipped")
    sys.exit(77)


def run(*argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.decode()}")
    return p.stdout.decode()


def main():
    build, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    schema = json.load(open(os.path.join(src, "schemas/stage_trace.schema.json")))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    t2j = os.path.join(build, "tools/trace2jsonl/trace2jsonl")
    td = os.path.join(build, "tools/tracedump/tracedump")
    j2t = os.path.join(build, "tools/jsonl2trace/jsonl2trace")
    sample = os.path.join(src, "samples/legacy/b3_66_sample.jsonl")
    failures = lines = 0
    with tempfile.TemporaryDirectory(prefix="tt_schema_") as tmp:
        fx = os.path.join(tmp, "fx")
        subprocess.run([os.path.join(build, "tests/cli/cli_fixtures"), fx], check=True)
        run(j2t, sample, "-o", os.path.join(tmp, "sample.tt"))
        outputs = {
            "trace2jsonl": run(t2j, fx + "/mixed.tt"),
            "trace2jsonl --extra": run(t2j, "--extra", fx + "/mixed.tt"),
            "trace2jsonl --extra --nan-as-null": run(t2j, "--extra", "--nan-as-null", fx + "/mixed.tt"),
            "tracedump --list --json": run(td, "--list", "--json", fx + "/mixed.tt"),
            "trace2jsonl (recovered)": run(t2j, "-q", fx + "/truncated.tt"),
            "legacy sample": open(sample).read(),
            "legacy sample, imported and written back": run(t2j, "--extra", os.path.join(tmp, "sample.tt")),
        }
        for what, text in outputs.items():
            for n, line in enumerate(text.splitlines(), 1):
                lines += 1
                rec = json.loads(line)  # Python's json: integers exact, NaN/Infinity accepted
                errors = list(validator.iter_errors(rec))
                if errors:
                    failures += 1
                    print(f"FAIL {what}, line {n}: {errors[0].message}\n  {line}")
        # the strict form has no NaN at all
        for line in outputs["trace2jsonl --extra --nan-as-null"].splitlines():
            json.loads(line, parse_constant=lambda c: sys.exit(f"non-standard {c} with --nan-as-null"))
    # what the schema must refuse
    good = json.loads(outputs["trace2jsonl"].splitlines()[0])
    bad = [dict(good, hash=-1), dict(good, hash=2 ** 64), dict(good, layer="0"), dict(good, event="other"),
           {k: v for k, v in good.items() if k != "seq_len"}, dict(good, colour="red"),
           {k: v for k, v in good.items() if k != "mean"}, dict(good, point="")]
    for b in bad:
        if validator.is_valid(b):
            failures += 1
            print(f"FAIL: the schema accepts {b}")
    print(f"{lines} lines validated, {len(bad)} bad records refused; {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
