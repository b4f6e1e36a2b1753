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
