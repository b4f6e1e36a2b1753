#!/bin/sh
# test_tracediff_tinylm_tp.sh — tinylm --tp N (tensor parallelism emulated in one process: heads and MLP columns
# split across N ranks, an all-reduce in rank order, one trace per rank) against TP=1 through tracediff:
# TP=2, 4, 8 in bf16 and f32 give no MISMATCH; a bug injected on one rank is found and that rank named.
# usage: test_tracediff_tinylm_tp.sh TINYLM TRACEDIFF OUT_DIR PYTHON3
set -eu
T=$1 D=$2 OUT=$3 PY=$4
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
for dt in bf16 f32; do
  "$T" -o "ref-$dt.tt" --dtype "$dt" > /dev/null
  for tp in 2 4 8; do
    "$T" --tp "$tp" -o "tp$tp-$dt-%r.tt" --dtype "$dt" > /dev/null
    set +e
    "$D" "tp$tp-$dt-*.tt" "ref-$dt.tt" --json "tp$tp-$dt.json" > "tp$tp-$dt.txt" 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 0 ] || { fail "TP=$tp $dt against TP=1: exit $rc"; cat "tp$tp-$dt.txt"; }
    "$PY" -c "import json,sys; d=json.load(open('tp$tp-$dt.json')); sys.exit(0 if d['counts']['mismatch'] == 0 and d['counts']['missing'] == 0 and len(d['left']['files']) == $tp else 1)" ||
      fail "TP=$tp $dt: the JSON has mismatches, missing pairs or not $tp files"
  done
done
# a bug on one rank: found, the rank named (bugs whose first symptom is in that rank's own shard of the work)
for spec in "rope-pos 4 1 q_post_rope" "kv-offset 2 1 k_cache" "softmax-scale 8 5 attn_scores" "rope-pos 8 7 q_post_rope"; do
  set -- $spec
  bug=$1 tp=$2 rank=$3 point=$4
  for dt in bf16 f32; do
    "$T" --tp "$tp" -o "bug-$bug-$tp-$dt-%r.tt" --dtype "$dt" --bug "$bug" --bug-rank "$rank" > /dev/null
    set +e
    "$D" "bug-$bug-$tp-$dt-*.tt" "ref-$dt.tt" --json "bug-$bug-$tp-$dt.json" > "bug.txt" 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 1 ] || { fail "--bug $bug on rank $rank of $tp ($dt): exit $rc"; cat bug.txt; }
    grep -q "first failure: $point L0 on rank $rank " bug.txt || { fail "--bug $bug on rank $rank of $tp ($dt): not named"; cat bug.txt; }
    "$PY" -c "import json,sys; d=json.load(open('bug-$bug-$tp-$dt.json')); sys.exit(0 if d['first_failure']['rank'] == $rank else 1)" ||
      fail "--bug $bug ($dt): JSON first_failure.rank is not $rank"
  done
done
[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "tinylm --tp: all cases passed"
