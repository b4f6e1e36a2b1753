#!/usr/bin/env bash
# tests/gpu/run_gpu_tests.sh — device capture on a real GPU: builds the CUDA flavour (NVIDIA) or the HIP flavour
# (AMD), runs the correctness program and the overhead benchmark, prints their results and writes the benchmark's
# JSON. Exits 77 (skip) with a message when the machine has no GPU, 1 when a correctness check fails, 0 otherwise
# (with --strict, also 1 when a benchmark target is missed).
#
#   tests/gpu/run_gpu_tests.sh [--build-dir DIR] [--no-build] [--flavour cuda|hip] [--strict] [--quick]
#                              [--json FILE] [-- gpu_bench options]
#
# Environment: TT_CUDA_ARCH / TT_HIP_ARCH (passed to CMake), TT_GPU_TMP (where traces are written; default
# /dev/shm when writable, else /tmp), TT_TEST_JOBS (build parallelism).
# The root CMakeLists.txt must add libtrace/device; while it does not, the script builds from an overlay of the
# source tree that does (symlinks plus a patched root file in the build directory), so it runs either way.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

build_dir="$root/build-gpu"
do_build=1
flavour=""
strict=0
quick=0
json=""
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --flavour) flavour=$2; shift 2 ;;
    --strict) strict=1; shift ;;
    --quick) quick=1; shift ;;
    --json) json=$2; shift 2 ;;
    --) shift; bench_args+=("$@"); break ;;
    *) echo "usage: $0 [--build-dir DIR] [--no-build] [--flavour cuda|hip] [--strict] [--quick]" \
            "[--json FILE] [-- bench options]" >&2
       exit 2 ;;
  esac
done

# ---- which GPU -------------------------------------------------------------------------------------------------
if [ -z "$flavour" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    flavour=cuda
  elif [ -e /dev/kfd ] && ls /sys/class/kfd/kfd/topology/nodes/*/gpu_id >/dev/null 2>&1 &&
       grep -qv '^0$' /sys/class/kfd/kfd/topology/nodes/*/gpu_id 2>/dev/null; then
    flavour=hip
  else
    echo "SKIP: no GPU on this machine (no NVIDIA GPU from nvidia-smi, no AMD GPU under /dev/kfd):" \
         "device capture tests need one"
    exit 77
  fi
fi
case "$flavour" in cuda|hip) ;; *) echo "--flavour: cuda or hip" >&2; exit 2 ;; esac
echo "==> flavour: $flavour"
if [ "$flavour" = cuda ]; then nvidia-smi -L || true; fi

# ---- build -----------------------------------------------------------------------------------------------------
if [ "$do_build" = 1 ]; then
  src="$root"
  if ! grep -q 'add_subdirectory(libtrace/device)' "$root/CMakeLists.txt"; then
    # the root file does not add device capture yet: build from an overlay that does
    src="$build_dir/overlay-src"
    mkdir -p "$src"
    for f in "$root"/* "$root"/.[!.]*; do
      [ -e "$f" ] || continue
      b=$(basename "$f")
      case "$b" in CMakeLists.txt|build*) continue ;; esac
      ln -sfn "$f" "$src/$b"
    done
    sed 's|^add_subdirectory(libtrace)$|add_subdirectory(libtrace)\nadd_subdirectory(libtrace/device)|' \
      "$root/CMakeLists.txt" > "$src/CMakeLists.txt"
    echo "==> note: root CMakeLists.txt lacks add_subdirectory(libtrace/device); building from $src"
  fi
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_BUILD_TESTS=ON -DTT_BUILD_TOOLS=OFF)
  if [ "$flavour" = cuda ]; then
    flags+=(-DTT_CUDA=ON -DTT_HIP=OFF)
    [ -n "${TT_CUDA_ARCH:-}" ] && flags+=("-DTT_CUDA_ARCH=$TT_CUDA_ARCH")
  else
    flags+=(-DTT_HIP=ON -DTT_CUDA=OFF)
    [ -n "${TT_HIP_ARCH:-}" ] && flags+=("-DTT_HIP_ARCH=$TT_HIP_ARCH")
  fi
  echo "==> configure $build_dir"
  cmake -S "$src" -B "$build_dir" "${flags[@]}" >/dev/null
  echo "==> build"
  cmake --build "$build_dir" -j"${TT_TEST_JOBS:-$(nproc)}" --target \
    "gpu_correctness_$flavour" "gpu_bench_$flavour" "device_capture_$flavour" "test_device_nodevice_$flavour"
fi
bin="$build_dir/tests/gpu"
for p in "gpu_correctness_$flavour" "gpu_bench_$flavour"; do
  [ -x "$bin/$p" ] || { echo "missing $bin/$p (build it, or drop --no-build)" >&2; exit 2; }
done

if [ -z "${TT_GPU_TMP:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TT_GPU_TMP=/dev/shm; else export TT_GPU_TMP=/tmp; fi
fi
[ -n "$json" ] || json="$build_dir/gpu_bench.json"

# ---- run -------------------------------------------------------------------------------------------------------
status=0
echo
echo "==> correctness"
set +e
"$bin/gpu_correctness_$flavour"
rc=$?
set -e
if [ $rc = 77 ]; then echo "SKIP: the runtime sees no GPU"; exit 77; fi
[ $rc = 0 ] || status=1

echo
echo "==> sample"
set +e
"$build_dir/samples/device/device_capture_$flavour" "$TT_GPU_TMP/tt_gpu_sample_$$.tt"
[ $? = 0 ] || status=1
rm -f "$TT_GPU_TMP/tt_gpu_sample_$$.tt"
set -e

echo
echo "==> benchmark"
[ "$quick" = 1 ] && bench_args+=(--quick)
set +e
"$bin/gpu_bench_$flavour" --json "$json" "${bench_args[@]+"${bench_args[@]}"}"
brc=$?
set -e
[ $brc = 0 ] || status=1
if [ -f "$json" ]; then
  echo "==> benchmark JSON: $json"
  if [ "$strict" = 1 ] && grep -q '"targets_met": {[^}]*false' "$json"; then
    echo "benchmark: a target was missed (--strict)"
    status=1
  fi
fi
echo
[ $status = 0 ] && echo "==> GPU tests passed" || echo "==> GPU tests FAILED"
exit $status
