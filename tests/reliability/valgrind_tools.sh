#!/usr/bin/env bash
# valgrind_tools.sh BUILD_DIR SOURCE_DIR — every tool under valgrind memcheck on good, damaged and hostile inputs:
# no invalid read or write, no use of uninitialised memory, no leak (definite or indirect), whatever the input.
# A tool may refuse an input (exit 1 or 2); valgrind's own error exit code (99) fails the test. Skips (77) where
# valgrind is not installed or the tools were not built. Label: reliability;valgrind.
set -u
build=$1
src=$2
command -v valgrind >/dev/null || { echo "valgrind_tools: SKIPPED: valgrind is not installed"; exit 77; }
[ -x "$build/tools/tracedump/tracedump" ] || { echo "valgrind_tools: SKIPPED: no tools in $build"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tt_valgrind.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Origins are tracked only when a run fails (it doubles the cost): the failing run is repeated with them.
vg=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --quiet)
runs=0
fails=0
run() { # run LABEL TOOL ARGS...
  local label=$1; shift
  local tool=$1; shift
  local log="$work/vg.log"
  "${vg[@]}" --log-file="$log" "$build/tools/$tool/$tool" "$@" >/dev/null 2>"$work/stderr"
  local rc=$?
  runs=$((runs + 1))
  if [ $rc -eq 99 ] || [ $rc -gt 128 ]; then
    fails=$((fails + 1))
    echo "valgrind_tools: FAILED ($rc): $label: $tool $*"
    "${vg[@]}" --track-origins=yes --log-file="$log" "$build/tools/$tool/$tool" "$@" >/dev/null 2>"$work/stderr"
    cat "$log"
  fi
}

inputs=("$src/samples/golden/small.tt")
for f in "$src"/tests/fuzz/corpus/reader/*.tt; do inputs+=("$f"); done
for t in "${inputs[@]}"; do
  n=$(basename "$t")
  run "$n summary" tracedump -q "$t"
  run "$n list" tracedump --list --json "$t"
  run "$n verify" tracedump --verify "$t"
  run "$n show" tracedump --show 0 "$t"
  run "$n recover" tracedump --recover -f -o "$work/rec.tt" "$t"
  run "$n npy" tracedump -q -f --export-npy "$work/npy/" "$t"
  run "$n safetensors" tracedump -q -f --export-safetensors "$work/x.safetensors" "$t"
  run "$n t2j" trace2jsonl --extra "$t"
  run "$n diff" tracediff --verify-identical --threads 2 "$t" "$src/samples/golden/small.tt"
done
for j in "$src/samples/legacy/b3_66_sample.jsonl" "$src"/tests/cli/inputs/*.jsonl "$src"/tests/fuzz/corpus/jsonl/*; do
  run "$(basename "$j") import" jsonl2trace -q -f "$j" -o "$work/imp.tt"
done
for tol in "$src"/tests/fuzz/corpus/tolfile/*; do
  run "$(basename "$tol") tol-file" tracediff --tol-file "$tol" "$src/samples/golden/small.tt" "$src/samples/golden/small.tt"
done
echo "valgrind_tools: $runs tool runs under valgrind memcheck, $fails with errors"
[ $fails -eq 0 ]
