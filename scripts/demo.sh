#!/usr/bin/env bash
# scripts/demo.sh — the main job: installs what is missing (Debian 12, as root), builds, traces the sample
# engine (tinylm) through the seeds' protocol — prefill over N+1 tokens (phase prefill_last) against prefill
# over N then decode of token N+1 (phase decode0) — once correct and once with a RoPE bug, diffs the two paths,
# and writes the report. Outputs go to out/demo (TT_DEMO_OUT overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" >/dev/null
out=${TT_DEMO_OUT:-out/demo}
rm -rf "$out"
mkdir -p "$out"
tinylm=build/samples/tinylm/tinylm
tracediff=build/tools/tracediff/tracediff
tracereport=build/tools/tracereport/tracereport

step() { printf '\n==> %s\n' "$*"; }
# tracediff exits 1 when it finds a mismatch: expected for the buggy engine; 2 and above are errors and stop the demo
tdiff() { "$tracediff" "$@" || [ $? -eq 1 ]; }

step "tracing tinylm, bf16: the correct engine, and the same engine with --bug rope-pos"
"$tinylm" -o "$out/correct.tt" --dtype bf16 --capture-full-prefill
"$tinylm" -o "$out/rope-pos.tt" --dtype bf16 --capture-full-prefill --bug rope-pos

step "correct engine: prefill_last vs decode0 (kv_aligned)"
tdiff --mode kv_aligned "$out/correct.tt" --json "$out/correct.diff.json" --tsv "$out/correct.diff.tsv"
step "engine with the RoPE bug: prefill_last vs decode0 (kv_aligned)"
tdiff --mode kv_aligned "$out/rope-pos.tt" --json "$out/rope-pos.diff.json" --tsv "$out/rope-pos.diff.tsv"
tdiff --mode as_designed "$out/rope-pos.tt" --json "$out/rope-pos.as_designed.json" -q

if [ -x "$tracereport" ]; then
  step "report"
  "$tracereport" "$out/rope-pos.diff.json" "$out/rope-pos.as_designed.json" -o "$out/report"
  "$tracereport" --compare "$out/rope-pos.diff.json" "$out/correct.diff.json" -o "$out/compare"
  printf '\nReport: %s\nBefore/after a fix: %s\n' "$out/report/report.html" "$out/compare/report.html"
else
  printf '\nDiff results: %s\n' "$out/rope-pos.diff.json"
fi
