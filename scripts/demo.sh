#!/usr/bin/env bash
# scripts/demo.sh — the main job: installs what is missing (Debian 12, as root), builds, traces the sample
# engine (tinylm) through the seeds' protocol — prefill over N+1 tokens (phase prefill_last) against prefill
# over N then decode of token N+1 (phase decode0) — once correct and once with a RoPE bug, diffs the two paths,
# and writes the report; where PyTorch is installed, does the same with samples/torch_llama (a PyTorch model traced
# by the Python package). Outputs go to out/demo (TT_DEMO_OUT overrides).
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

step "tensor parallelism: tinylm --tp 4 (one trace per rank) against TP=1, then with --bug rope-pos on rank 2 only"
"$tinylm" --tp 4 -o "$out/tp4-%r.tt" --dtype bf16 --capture-full-prefill
tdiff "$out/tp4-*.tt" "$out/correct.tt" --worst 0 --json "$out/tp4.diff.json"
"$tinylm" --tp 4 -o "$out/tp4-rope-%r.tt" --dtype bf16 --capture-full-prefill --bug rope-pos --bug-rank 2
tdiff "$out/tp4-rope-*.tt" "$out/correct.tt" --worst 0 --json "$out/tp4-rope.diff.json"

step "two-pass capture: cheap hash traces, the plan, a full capture of what it names only, the diff"
TT_TRACE_MODE=hash "$tinylm" -o "$out/cheap-ref.tt" --dtype bf16
TT_TRACE_MODE=hash "$tinylm" -o "$out/cheap-bug.tt" --dtype bf16 --bug softmax-scale
tdiff --plan --worst 0 "$out/cheap-bug.tt" "$out/cheap-ref.tt" --json "$out/plan.diff.json" | tee "$out/plan.txt"
# the plan's line of TT_TRACE_* variables, as tracediff --plan prints it
plan=$(sed -n 's/^  \(TT_TRACE_MODE=full .*\)$/\1/p' "$out/plan.txt")
# word splitting of the plan's VAR=VALUE list is intended
# shellcheck disable=SC2086
env $plan "$tinylm" -o "$out/partial-ref.tt" --dtype bf16
# shellcheck disable=SC2086
env $plan "$tinylm" -o "$out/partial-bug.tt" --dtype bf16 --bug softmax-scale
printf 'sizes: hash %s + %s bytes, partial full %s + %s bytes (a full capture: %s bytes)\n' \
  "$(wc -c < "$out/cheap-ref.tt")" "$(wc -c < "$out/cheap-bug.tt")" "$(wc -c < "$out/partial-ref.tt")" \
  "$(wc -c < "$out/partial-bug.tt")" "$(wc -c < "$out/correct.tt")"
tdiff "$out/partial-bug.tt" "$out/partial-ref.tt" --worst 0

# The same protocol on a PyTorch model (samples/torch_llama), traced with the Python package, where torch imports.
if /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
  step "torch_llama (PyTorch, traced with tensortrace.torch.capture): prefill vs decode0, correct and with --bug rope-pos"
  export TT_LIBTRACE="$PWD/build/libtrace/libtrace.so"
  /usr/bin/python3 samples/torch_llama/run.py -o "$out/torch.tt"
  /usr/bin/python3 samples/torch_llama/run.py -o "$out/torch-rope-pos.tt" --bug rope-pos -q
  kv=(--mode kv_aligned --left phase=prefill --right phase=decode0 --align pos)
  tdiff "${kv[@]}" "$out/torch.tt" --json "$out/torch.diff.json" --worst 3
  tdiff "${kv[@]}" "$out/torch-rope-pos.tt" --json "$out/torch-rope-pos.diff.json" --worst 3
else
  printf '\n(torch_llama skipped: /usr/bin/python3 cannot import torch and numpy)\n'
fi

if [ -x "$tracereport" ]; then
  step "report"
  "$tracereport" "$out/rope-pos.diff.json" "$out/rope-pos.as_designed.json" -o "$out/report"
  "$tracereport" --compare "$out/rope-pos.diff.json" "$out/correct.diff.json" -o "$out/compare"
  if [ -f "$out/torch-rope-pos.diff.json" ]; then
    "$tracereport" "$out/torch-rope-pos.diff.json" -o "$out/torch-report"
  fi
  printf '\nReport: %s\nBefore/after a fix: %s\n' "$out/report/report.html" "$out/compare/report.html"
  if [ -f "$out/torch-rope-pos.diff.json" ]; then
    printf 'torch_llama with the RoPE bug: %s\n' "$out/torch-report/report.html"
  fi
else
  printf '\nDiff results: %s\n' "$out/rope-pos.diff.json"
fi
