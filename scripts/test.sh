#!/usr/bin/env bash
# scripts/test.sh — the whole test suite: installs what is missing (Debian 12, as root), builds everything with
# warnings as errors, runs every ctest test, then builds again under ASan+UBSan and under TSan and runs the
# library's tests (writer, reader, format, fuzz-corpus replays) there too.
# Environment: TT_TEST_JOBS (default: number of CPUs), TT_TEST_SKIP_SANITIZERS=1 to run only the plain build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

jobs=${TT_TEST_JOBS:-$(nproc)}
step() { printf '\n==> %s\n' "$*"; }

# build_for_labels DIR LABELS: builds in DIR only the test programs that ctest runs for LABELS when each of those
# tests is a program of DIR itself (then nothing else is needed); otherwise everything. A program not built yet has
# no "Test command" in ctest's listing, only "Could not find executable PATH": both are taken.
build_for_labels() {
  local dir=$1 labels=$2 cmds targets=()
  cmds=$(ctest --test-dir "$dir" -N -V -L "$labels" 2>&1 |
         sed -n -e 's/^[0-9]*: Test command: \([^ ][^ ]*\).*/\1/p' -e 's/^Could not find executable \([^ ]*\).*/\1/p')
  for c in $cmds; do
    case $c in
      "$PWD/$dir"/*) targets+=(--target "$(basename "$c")") ;;
      *) targets=(); break ;;
    esac
  done
  cmake --build "$dir" -j"$jobs" "${targets[@]}"
}

step "build (RelWithDebInfo), with the HIP and CUDA device-capture flavours compiled"
cuda=OFF
[ -x /usr/local/cuda/bin/nvcc ] && cuda=ON
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_BUILD_TESTS=ON -DTT_HIP=ON -DTT_CUDA=$cuda >/dev/null
cmake --build build -j"$jobs"
step "ctest: everything"
ctest --test-dir build --output-on-failure -j"$jobs"

if [ "${TT_TEST_SKIP_SANITIZERS:-0}" != 1 ]; then
  step "build with ASan+UBSan"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTT_SANITIZE=address,undefined -DTT_BUILD_TESTS=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  step "ctest under ASan+UBSan: unit, writer-reader, fuzz corpora, device host side, reliability"
  ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j"$jobs" -L 'unit|writer-reader|fuzz|device-host|reliability'

  step "build with TSan"
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_SANITIZE=thread -DTT_BUILD_TESTS=ON >/dev/null
  build_for_labels build-tsan 'writer-reader|threads|device-host'
  step "ctest under TSan: writer-reader tests"
  TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -j"$jobs" -L 'writer-reader|threads|device-host'
fi
step "all tests passed"
