#!/bin/sh
# bench_trace2jsonl.sh BUILD_DIR [N] — the trace2jsonl throughput benchmark of tools/README.md ("Benchmark"):
# writes a trace of N (default 1,000,000) stats-only records with gen_stats_trace, then converts it to JSONL
# three times with the output thrown away, and prints the best wall time and lines per second (one core: the
# tool is single-threaded). Needs GNU time at /usr/bin/time for the CPU and memory figures.
set -eu
build=$1
n=${2:-1000000}
dir=${TMPDIR:-/tmp}/tt_bench_t2j.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
"$build/tests/cli/gen_stats_trace" "$dir/stats.tt" "$n"
ls -l "$dir/stats.tt" | awk '{print "trace: " $5 " bytes"}'
lines=$("$build/tools/trace2jsonl/trace2jsonl" "$dir/stats.tt" | wc -l)
echo "lines: $lines"
best=
for i in 1 2 3; do
    t=$( { /usr/bin/time -f "%e %U %S %M" "$build/tools/trace2jsonl/trace2jsonl" "$dir/stats.tt" -o /dev/null; } 2>&1 )
    echo "run $i: wall ${t%% *} s (user, sys, max RSS KiB: ${t#* })"
    w=${t%% *}
    if [ -z "$best" ] || [ "$(awk -v a="$w" -v b="$best" 'BEGIN { print (a < b) }')" = 1 ]; then best=$w; fi
done
awk -v n="$lines" -v t="$best" 'BEGIN { printf "best: %s s, %.0f lines/s\n", t, n / t }'
