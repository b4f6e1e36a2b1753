#!/bin/sh
# tracediff's command line: help, usage errors and bad inputs give exit 2 with a message naming the culprit,
# never a crash or a silent pass; outputs to stdout; an unwritable output gives exit 3.
# usage: test_tracediff_cli.sh TRACEDIFF DIFF_TESTGEN OUTDIR
set -u
TD=$1 GEN=$2 OUT=$3
mkdir -p "$OUT"
"$GEN" "$OUT" >/dev/null || { echo "FAIL: generator"; exit 1; }
fails=0 passes=0
# expect CODE PATTERN ARGS...: exit code CODE and stderr matching PATTERN (grep -E)
expect() {
  code=$1 pat=$2
  shift 2
  "$TD" "$@" >"$OUT/stdout" 2>"$OUT/stderr"
  rc=$?
  if [ $rc -ne "$code" ] || ! grep -Eq -- "$pat" "$OUT/stderr" "$OUT/stdout"; then
    echo "FAIL: tracediff $* -> exit $rc (expected $code), output:"; cat "$OUT/stderr"; fails=$((fails + 1))
  else
    passes=$((passes + 1))
  fi
}
L=$OUT/left.tt R=$OUT/right.tt
expect 0 "usage: tracediff" --help
expect 0 "tracediff" --version
expect 2 "missing LEFT" 
expect 2 "the same file as" "$L" "$L" "$R"
expect 2 "no-such.tt" "$OUT/no-such.tt" "$R"
expect 2 "--mode" --mode bogus "$L" "$R"
expect 2 "--align" --align rows "$L" "$R"
expect 2 "key field 'bogus'" --key prompt_id,bogus,point "$L" "$R"
expect 2 "option --left 'phase~x'" --left 'phase~x' --right phase=y "$L"
expect 2 "left side .*selects no record" --left phase=nothing --right phase=prefill_last "$L"
expect 2 "side .*selects no record" --where layer=99 "$L" "$R"
expect 2 "both sides need a filter" --left phase=prefill_last "$L"
expect 2 "no pair" --key prompt_id,layer,point --left layer=1 --right layer=0 "$L"
printf 'attn_out 1 1e-3\n' > "$OUT/bad.tol"
expect 2 "bad.tol: line 1, column" --tol-file "$OUT/bad.tol" "$L" "$R"
printf 'ok * 1 1\nattn_out 1 1e-3 abc\n' > "$OUT/bad2.tol"
expect 2 "line 2, column 17" --tol-file "$OUT/bad2.tol" "$L" "$R"
expect 2 "no-such.tol" --tol-file "$OUT/no-such.tol" "$L" "$R"
expect 2 "RTOL:ATOL" --tol attn_out=1 "$L" "$R"
printf 'not a trace at all, only some words to fill a file of a plausible size for a trailer check\n' > "$OUT/junk.tt"
expect 2 "junk.tt" "$OUT/junk.tt" "$R"
: > "$OUT/empty.tt"
expect 2 "empty.tt" "$OUT/empty.tt" "$R"
expect 3 "cannot|denied|No such" --json /nonexistent-dir/x.json "$L" "$R"
# findings and outputs on stdout
expect 1 "MISMATCH" "$L" "$R"
expect 1 '"verdict":"MISMATCH"' --json - "$L" "$R"
expect 1 "^PROMPT	TOKEN_ID	POS_ID	LAYER	FIRST_FAIL	ROOT_CAUSE	DETAILS" --tsv - "$L" "$R"
expect 1 "^INDEX	GROUP" --pairs-tsv - "$L" "$R"
expect 1 "MISMATCH \(NONFINITE\)" "$L" "$L"          # its NaN/Inf are never silent
expect 0 "IDENTICAL" --allow-nonfinite "$L" "$L"        # unless both sides hold them and that is accepted
expect 0 "STRUCTURAL_DRIFT" --tol '*=0.05:0.1rms' --where point=t_bf16 "$L" "$R"
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
