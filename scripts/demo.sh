#!/usr/bin/env bash
# scripts/demo.sh — the main job: installs what is missing (Debian 12, as root), builds, traces the sample
# engine's prefill and decode (correct, then with a bug), diffs them and writes the report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$jobs" >/dev/null
out=${TT_DEMO_OUT:-out/demo}
rm -rf "$out"
mkdir -p "$out"
bin=build/tools

if [ -x build/samples/tinylm/tinylm ]; then
  echo "==> tracing tinylm (correct engine and --bug rope-pos)"
  build/samples/tinylm/tinylm -o "$out/correct.tt"
  build/samples/tinylm/tinylm -o "$out/rope-pos.tt" --bug rope-pos
  $bin/tracedump/tracedump "$out/correct.tt" 2>/dev/null || true
else
  echo "==> writing and reading a small trace"
  build/tests/interop/trace_tool golden "$out/small.tt" 2>/dev/null || true
fi
echo "==> outputs in $out"
