#!/usr/bin/python3
"""run_cli_tests.py — runs tracedump, trace2jsonl and jsonl2trace on the fixture traces, the legacy sample and
bad inputs, and compares each run's exit code, stdout and stderr with tests/cli/expected/NAME.txt.

Each case is one command line (and, rarely, regular expressions for what of its output varies from run to
run). Placeholders: {FX} the fixture directory (made here by cli_fixtures), {TMP} a
scratch directory shared by the cases in order (a case may read what an earlier one wrote), {SRC} the source
tree. A leading tool name (tracedump, trace2jsonl, jsonl2trace) runs the built tool; "< FILE" at the end feeds
FILE on standard input. Outputs are normalised before comparing: the placeholders are put back in place of the
paths, and what changes from run to run or with the compressor (clock times, file sizes, stored bytes, frame
offsets) is replaced by <TIME>, <N>, <SIZE>.

  run_cli_tests.py --bin BUILD_DIR --src SOURCE_DIR [--update] [--wrap 'valgrind -q --error-exitcode=99'] [NAME...]

--update rewrites the expected files from the current output (review the diff before committing: this is how
the golden files are regenerated after an intended change). --wrap runs every tool under a checker; with
valgrind, an error makes the tool exit 99 and the case fail.
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

TOOLS = {
    "tracedump": "tools/tracedump/tracedump",
    "trace2jsonl": "tools/trace2jsonl/trace2jsonl",
    "jsonl2trace": "tools/jsonl2trace/jsonl2trace",
}

SAMPLE = "{SRC}/samples/legacy/b3_66_sample.jsonl"
BAD = "{SRC}/tests/cli/inputs/bad_lines.jsonl"
BAD_MORE = "{SRC}/tests/cli/inputs/bad_lines_more.jsonl"
ALL_BAD = "{SRC}/tests/cli/inputs/all_bad.jsonl"

CASES = [
    # --- tracedump: help, summaries ---
    ("td_help", "tracedump --help"),
    ("td_version", "tracedump --version"),
    ("td_summary", "tracedump {FX}/mixed.tt"),
    ("td_summary_json", "tracedump --json {FX}/mixed.tt"),
    ("td_summary_where", "tracedump --where prompt_id=p0_short --where layer=0-8 {FX}/mixed.tt"),
    ("td_summary_empty", "tracedump {FX}/empty.tt"),
    ("td_summary_stdin", "tracedump - < {FX}/mixed.tt"),
    # the counters of a recovered file are those of its last batch: how many puts came before it is timing
    ("td_summary_truncated", "tracedump {FX}/truncated.tt", [(r"puts \d+, written", "puts <N>, written")]),
    # --- tracedump --list ---
    ("td_list", "tracedump --list {FX}/mixed.tt"),
    ("td_list_where", "tracedump --list --where point=attn_out --where layer=0 {FX}/mixed.tt"),
    ("td_list_where_neg", "tracedump -l -w phase!=prefill_last,prefill -w dtype=bf16 -n 3 {FX}/mixed.tt"),
    ("td_list_json", "tracedump --list --json --limit 3 {FX}/mixed.tt"),
    ("td_list_meta_only", "tracedump --list --where index=37-39 {FX}/mixed.tt"),
    # --- tracedump --show ---
    ("td_show_big", "tracedump --show 33 {FX}/mixed.tt"),
    ("td_show_slice", "tracedump --show 33 --slice 0:4,0:8 {FX}/mixed.tt"),
    ("td_show_slice_step", "tracedump --show=33 --slice=-1,::8 {FX}/mixed.tt"),
    ("td_show_threshold", "tracedump --show 33 --slice 0:5 --threshold 100 --edge-items 2 --precision 2 {FX}/mixed.tt"),
    ("td_show_cube", "tracedump --show 35 {FX}/mixed.tt"),
    ("td_show_nonfinite", "tracedump --show 36 {FX}/mixed.tt"),
    ("td_show_scalar", "tracedump --show 34 {FX}/mixed.tt"),
    ("td_show_scientific", "tracedump --show 40 {FX}/mixed.tt"),
    ("td_show_dtypes", "tracedump --show --where prompt_id=dtypes {FX}/mixed.tt"),
    ("td_show_json", "tracedump --show 35 --json {FX}/mixed.tt"),
    ("td_show_stats_only", "tracedump --show 37 {FX}/mixed.tt"),
    ("td_show_no_record", "tracedump --show {FX}/mixed.tt"),
    ("td_show_none_match", "tracedump --show --where point=nothing {FX}/mixed.tt"),
    ("td_show_out_of_range", "tracedump --show 999 {FX}/mixed.tt"),
    ("td_show_bad_slice", "tracedump --show 33 --slice 0:4,x {FX}/mixed.tt"),
    ("td_show_slice_bounds", "tracedump --show 33 --slice 64 {FX}/mixed.tt"),
    ("td_show_slice_dims", "tracedump --show 33 --slice 1,2,3 {FX}/mixed.tt"),
    ("td_show_slice_step0", "tracedump --show 33 --slice 0:4:0 {FX}/mixed.tt"),
    # --- tracedump --verify / --recover ---
    ("td_verify_ok", "tracedump --verify {FX}/mixed.tt"),
    ("td_verify_damaged", "tracedump --verify {FX}/damaged.tt"),
    ("td_verify_damaged_json", "tracedump --verify --json {FX}/damaged.tt"),
    ("td_verify_truncated", "tracedump --verify {FX}/truncated.tt"),
    ("td_verify_notatrace", "tracedump --verify {FX}/notatrace.tt"),
    ("td_recover_damaged", "tracedump --recover -o {TMP}/recovered.tt {FX}/damaged.tt"),
    ("td_recover_damaged_verify", "tracedump --verify {TMP}/recovered.tt"),
    ("td_recover_exists", "tracedump --recover -o {TMP}/recovered.tt {FX}/damaged.tt"),
    ("td_recover_truncated", "tracedump --recover --force -o {TMP}/recovered.tt {FX}/truncated.tt"),
    ("td_recover_truncated_verify", "tracedump --verify {TMP}/recovered.tt"),
    ("td_recover_truncated_list", "tracedump --list -n 4 {TMP}/recovered.tt"),
    ("td_recover_no_output", "tracedump --recover {FX}/damaged.tt"),
    # --- tracedump exports (values are checked by test_exports.py) ---
    ("td_export_npy_one", "tracedump --export-npy {TMP}/big.npy --where index=33 {FX}/mixed.tt"),
    ("td_export_npy_many", "tracedump --export-npy {TMP}/x.npy --where prompt_id=dtypes {FX}/mixed.tt"),
    ("td_export_npy_dir", "tracedump --export-npy {TMP}/npy/ --where prompt_id=dtypes {FX}/mixed.tt"),
    ("td_export_st_meta_only", "tracedump --export-safetensors {TMP}/none.st --where index=37-39 {FX}/mixed.tt"),
    # --- tracedump bad inputs and usage ---
    ("td_missing", "tracedump {TMP}/no_such.tt"),
    ("td_notatrace", "tracedump {FX}/notatrace.tt"),
    ("td_short", "tracedump {FX}/short.tt"),
    ("td_directory", "tracedump {FX}"),
    ("td_no_input", "tracedump --list"),
    ("td_unknown_flag", "tracedump --bogus {FX}/mixed.tt"),
    ("td_bad_where_field", "tracedump --list --where colour=red {FX}/mixed.tt"),
    ("td_bad_where_value", "tracedump --list --where layer=x {FX}/mixed.tt"),
    ("td_bad_where_syntax", "tracedump --list --where layer {FX}/mixed.tt"),
    ("td_two_modes", "tracedump --list --verify {FX}/mixed.tt"),
    ("td_flag_value", "tracedump --list=3 {FX}/mixed.tt"),
    ("td_missing_value", "tracedump {FX}/mixed.tt --where"),
    ("td_bad_limit", "tracedump --list --limit -3 {FX}/mixed.tt"),
    # --- trace2jsonl ---
    ("t2j_help", "trace2jsonl --help"),
    ("t2j_version", "trace2jsonl -V"),
    ("t2j_mixed", "trace2jsonl {FX}/mixed.tt"),
    ("t2j_extra", "trace2jsonl --extra {FX}/mixed.tt"),
    ("t2j_nan_null", "trace2jsonl --extra --nan-as-null --where point=nonfinite {FX}/mixed.tt"),
    ("t2j_where", "trace2jsonl --where phase=decode0 --where layer=0-1 {FX}/mixed.tt"),
    ("t2j_output", "trace2jsonl -w index=0 -o {TMP}/one.jsonl {FX}/mixed.tt"),
    ("t2j_output_content", "cat {TMP}/one.jsonl"),
    ("t2j_stdin", "trace2jsonl --where index=37-39 - < {FX}/mixed.tt"),
    ("t2j_empty", "trace2jsonl {FX}/empty.tt"),
    ("t2j_truncated", "trace2jsonl --where index=0-2 {FX}/truncated.tt"),
    ("t2j_truncated_quiet", "trace2jsonl -q --where index=0 {FX}/truncated.tt"),
    ("t2j_missing", "trace2jsonl {TMP}/no_such.tt"),
    ("t2j_notatrace", "trace2jsonl {FX}/notatrace.tt"),
    ("t2j_stdin_notatrace", "trace2jsonl - < {FX}/notatrace.tt"),
    ("t2j_no_input", "trace2jsonl"),
    ("t2j_two_inputs", "trace2jsonl {FX}/mixed.tt {FX}/empty.tt"),
    ("t2j_unknown_flag", "trace2jsonl --bogus {FX}/mixed.tt"),
    ("t2j_bad_where", "trace2jsonl --where layer=1-x {FX}/mixed.tt"),
    ("t2j_unwritable", "trace2jsonl -o {TMP}/no/such/dir/out.jsonl {FX}/mixed.tt"),
    # --- jsonl2trace ---
    ("j2t_help", "jsonl2trace --help"),
    ("j2t_version", "jsonl2trace --version"),
    ("j2t_sample", "jsonl2trace " + SAMPLE + " -o {TMP}/sample.tt"),
    ("j2t_sample_summary", "tracedump {TMP}/sample.tt"),
    ("j2t_sample_back", "trace2jsonl --where layer=0 --where point=attn_out {TMP}/sample.tt"),
    ("j2t_bad_lines", "jsonl2trace " + BAD + " -o {TMP}/bad.tt"),
    ("j2t_bad_lines_back", "trace2jsonl {TMP}/bad.tt"),
    ("j2t_bad_lines_more", "jsonl2trace " + BAD_MORE + " -o {TMP}/bad_more.tt"),
    ("j2t_bad_lines_tail", "jsonl2trace --strict {SRC}/tests/cli/inputs/bad_lines_tail.jsonl -o {TMP}/t.tt"),
    ("j2t_bad_lines_tail_all", "jsonl2trace -o {TMP}/t.tt < {SRC}/tests/cli/inputs/bad_lines_tail.jsonl"),
    ("j2t_bad_lines_more_back", "trace2jsonl --extra {TMP}/bad_more.tt"),
    ("j2t_bad_lines_quiet", "jsonl2trace -q -f " + BAD + " -o {TMP}/bad.tt"),
    ("j2t_strict", "jsonl2trace --strict " + BAD + " -o {TMP}/strict.tt"),
    ("j2t_strict_no_output", "tracedump {TMP}/strict.tt"),
    ("j2t_strict_sample", "jsonl2trace --strict -o {TMP}/strict_ok.tt " + SAMPLE),
    ("j2t_all_bad", "jsonl2trace " + ALL_BAD + " -o {TMP}/all_bad.tt"),
    ("j2t_stdin", "jsonl2trace -o {TMP}/stdin.tt --meta engine=greta --meta commit=56b755a < " + SAMPLE),
    ("j2t_stdin_summary", "tracedump --where layer=8 {TMP}/stdin.tt"),
    ("j2t_exists", "jsonl2trace " + SAMPLE + " -o {TMP}/sample.tt"),
    ("j2t_no_output", "jsonl2trace " + SAMPLE),
    ("j2t_output_dash", "jsonl2trace " + SAMPLE + " -o -"),
    ("j2t_missing_input", "jsonl2trace {TMP}/no_such.jsonl -o {TMP}/x.tt"),
    ("j2t_bad_meta", "jsonl2trace --meta novalue " + SAMPLE + " -o {TMP}/x.tt"),
    ("j2t_unknown_flag", "jsonl2trace --bogus -o {TMP}/x.tt"),
    ("j2t_unwritable", "jsonl2trace " + SAMPLE + " -o {TMP}/no/such/dir/x.tt"),
    ("j2t_binary_input", "jsonl2trace {FX}/short.tt -o {TMP}/binary.tt"),
]

TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
NORMALISE = [
    (re.compile(r'"(created_ns|closed_ns|file_size|file_bytes|stored|bytes_stored|stored_bytes|ratio)": [0-9.e+]+'),
     r'"\1": <N>'),
    (re.compile(r"offset \d+"), "offset <N>"),
    (re.compile(r'"offset": \d+'), '"offset": <N>'),
    (re.compile(r"\((\d+(\.\d)? (B|KiB|MiB))\)"), "(<SIZE>)"),
    (re.compile(r"stored \d+(\.\d)? (B|KiB|MiB)( \(ratio [0-9.]+\))?"), "stored <SIZE>"),
]


def normalise(text, subst):
    for path, name in subst:
        text = text.replace(path, name)
    text = TIME_RE.sub("<TIME>", text)
    for rx, rep in NORMALISE:
        text = rx.sub(rep, text)
    return text


def run_case(cmd, args, subst_in):
    line = cmd
    for name, path in subst_in:
        line = line.replace(name, path)
    stdin_path = None
    if " < " in line:
        line, stdin_path = line.rsplit(" < ", 1)
    argv = shlex.split(line)
    if argv[0] in TOOLS:
        argv[0] = os.path.join(args.bin, TOOLS[argv[0]])
        if args.wrap:
            argv = shlex.split(args.wrap) + argv
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        p = subprocess.run(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                           env=dict(os.environ, LC_ALL="C"))
    finally:
        if stdin_path:
            stdin.close()
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def render(cmd, code, out, err):
    return f"$ {cmd}\n--- exit: {code}\n--- stdout:\n{out}--- stderr:\n{err}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--wrap", default="")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.src = os.path.abspath(args.src)
    expected_dir = os.path.join(args.src, "tests/cli/expected")
    work = tempfile.mkdtemp(prefix="tt_cli_")
    fx, tmp = os.path.join(work, "fx"), os.path.join(work, "tmp")
    os.makedirs(tmp)
    subprocess.run([os.path.join(args.bin, "tests/cli/cli_fixtures"), fx], check=True)
    subst_in = [("{FX}", fx), ("{TMP}", tmp), ("{SRC}", args.src)]
    subst_out = [(fx, "{FX}"), (tmp, "{TMP}"), (args.src, "{SRC}"), (work, "{WORK}")]
    passed = failed = 0
    for case in CASES:
        name, cmd = case[0], case[1]
        if args.names and name not in args.names:
            continue
        code, out, err = run_case(cmd, args, subst_in)
        out, err = normalise(out, subst_out), normalise(err, subst_out)
        for rx, rep in case[2] if len(case) > 2 else []:
            out, err = re.sub(rx, rep, out), re.sub(rx, rep, err)
        got = render(cmd, code, out, err)
        path = os.path.join(expected_dir, name + ".txt")
        if args.update:
            with open(path, "w") as f:
                f.write(got)
            print(f"updated {name}")
            continue
        want = open(path).read() if os.path.exists(path) else None
        if want == got:
            passed += 1
            print(f"ok   {name}")
        else:
            failed += 1
            print(f"FAIL {name}: {cmd}")
            if want is None:
                print(f"  no expected file {path}; got:\n{got}")
            else:
                import difflib
                sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                                           "expected", "got"))
    shutil.rmtree(work, ignore_errors=True)
    if not args.update:
        print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
