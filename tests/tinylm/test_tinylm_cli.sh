#!/bin/sh
# test_tinylm_cli.sh TINYLM OUTDIR — the tinylm command line: help, version, usage errors (exit 2 with a message
# naming the culprit), runtime errors (exit 1 with the file name), an untraced run.
set -u
bin=$1
dir=$2
mkdir -p "$dir"
fails=0

# expect CODE PATTERN ARGS... : runs tinylm, checks the exit code and that PATTERN occurs in stdout+stderr.
expect() {
    want=$1 pattern=$2
    shift 2
    "$bin" "$@" >"$dir/cli.out" 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: tinylm $* exited $got, expected $want"; cat "$dir/cli.out"; fails=$((fails + 1)); return
    fi
    if ! grep -q -e "$pattern" "$dir/cli.out"; then
        echo "FAIL: tinylm $*: output lacks '$pattern'"; cat "$dir/cli.out"; fails=$((fails + 1)); return
    fi
    echo "ok: tinylm $* -> $got"
}

expect 0 "usage: tinylm -o FILE" --help
for word in --dtype --bug --layers --hidden --heads --kv-heads --vocab --seed --prompts --capture-full-prefill \
            --mode --threads --version rope-pos mask kv-offset softmax-scale norm-eps; do
    expect 0 "$word" -h
done
expect 0 "^tinylm [0-9]" --version
expect 2 "unknown option '--bogus'" --bogus
expect 2 "unknown bug 'nope'" -o "$dir/x.tt" --bug nope
expect 2 "unknown --dtype 'f64'" --dtype f64
expect 2 "layers needs an integer" --layers 0
expect 2 "layers needs an integer" --layers
expect 2 "multiple of heads" --hidden 100 --heads 3
expect 2 "multiple of kv-heads" --heads 8 --kv-heads 3
expect 2 "bad --prompts 'nolength'" --prompts nolength
expect 2 "bad --prompts 'x:1'" --prompts x:1
expect 2 "bad --prompts" --prompts a:3,a:4
expect 2 "unknown --mode 'fast'" --mode fast
expect 2 "seed needs" --seed -1
expect 2 "needs a file name" -o
expect 1 "$dir/no/such/dir/t.tt" -o "$dir/no/such/dir/t.tt" --prompts p0_short
env -u TT_TRACE_FILE "$bin" --prompts p0_short --layers 1 >"$dir/cli.out" 2>&1
if [ $? -ne 0 ] || ! grep -q "untraced" "$dir/cli.out"; then
    echo "FAIL: untraced run"; cat "$dir/cli.out"; fails=$((fails + 1))
else
    echo "ok: untraced run"
fi
expect 0 "--tp N" -h
expect 0 "--bug-rank R" -h
expect 2 "--tp 3 does not divide the 8 heads" --tp 3 -o "$dir/tp-%r.tt"
expect 2 "does not divide the MLP width 100" --tp 8 --ffn 100 -o "$dir/tp-%r.tt"
expect 2 "one must divide the other" --tp 4 --heads 12 --hidden 384 --kv-heads 3 -o "$dir/tp-%r.tt"
expect 2 "--tp needs an integer in 1..64" --tp 65
expect 2 "needs %r (the rank)" --tp 2 -o "$dir/tp.tt"
env TT_TRACE_FILE="$dir/env.tt" "$bin" --tp 2 >"$dir/cli.out" 2>&1
if [ $? -ne 2 ] || ! grep -q "needs %r" "$dir/cli.out"; then
    echo "FAIL: --tp 2 with TT_TRACE_FILE lacking %r"; cat "$dir/cli.out"; fails=$((fails + 1))
else
    echo "ok: --tp 2 with TT_TRACE_FILE lacking %r -> 2"
fi
expect 2 "--bug-rank needs a --bug" --tp 2 --bug-rank 1 -o "$dir/tp-%r.tt"
expect 2 "the ranks are 0..1" --tp 2 --bug rope-pos --bug-rank 2 -o "$dir/tp-%r.tt"
expect 2 "norm-eps acts on a stage every rank computes alike" --tp 2 --bug norm-eps --bug-rank 0 -o "$dir/tp-%r.tt"
expect 1 "no rank is known" -o "$dir/norank-%r.tt" --prompts p0_short --layers 1
expect 0 "wrote" -o "$dir/cli_ok.tt" --prompts p0_short --layers 1
[ -s "$dir/cli_ok.tt" ] || { echo "FAIL: no trace written"; fails=$((fails + 1)); }

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
