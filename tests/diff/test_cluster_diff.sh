#!/bin/sh
# test_cluster_diff.sh — scripts/cluster_diff.sh under a fake launcher (fake_launcher.sh: N tasks at once, each with
# SLURM_PROCID set as srun does): per-rank diffs of a TP=4 run with a bug on rank 1 against a correct TP=4 run,
# merged by tracereport into one report with a per-rank view; then the same without the bug (exit 0), and a task
# whose input is missing (exit 2, the rank named).
# usage: test_cluster_diff.sh SOURCE_DIR BUILD_DIR OUT_DIR
set -eu
S=$1 B=$2 OUT=$3
GEN=$B/tests/diff/diff_shardgen
rm -rf "$OUT"
mkdir -p "$OUT/data"
"$GEN" "$OUT/data" --tp 4 --prefix ref --no-ref
"$GEN" "$OUT/data" --tp 4 --prefix eng --bug-rank 1 --no-ref
"$GEN" "$OUT/data" --tp 4 --prefix good --no-ref
L="sh $S/tests/diff/fake_launcher.sh -n 4"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

set +e
bash "$S/scripts/cluster_diff.sh" -l "$L" -b "$B/tools" -o "$OUT/bug" "$OUT/data/eng-rank%r.tt" "$OUT/data/ref-rank%r.tt" \
   > "$OUT/bug.txt" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || { fail "bug run: exit $rc, wanted 1"; cat "$OUT/bug.txt"; }
# the bug is rank 1's; the all-reduce spreads it to every rank's replicated residual after it
grep -q "MISMATCH on rank(s): 0 1 2 3 " "$OUT/bug.txt" || { fail "bug run: ranks not named"; cat "$OUT/bug.txt"; }
for r in 0 1 2 3; do [ -f "$OUT/bug/rank-$r.json" ] || fail "no rank-$r.json"; done
md=$OUT/bug/report/report.md
[ -f "$md" ] || fail "no merged report"
grep -q "Per-Rank View" "$md" || fail "report: no per-rank view"
grep -E -q '^\| *1 *\|.*MISMATCH' "$md" || { fail "report: rank 1 not a MISMATCH row"; grep -n "Rank" -A8 "$md"; }
grep -E -q '^\| *1 *\|.*q_pre_rope L1' "$md" || fail "report: rank 1 does not fail at q_pre_rope L1"
grep -E -q '^\| *0 *\|.*residual_post_attn L1' "$md" || fail "report: rank 0 does not fail at residual_post_attn L1"
grep -q "The earliest in pipeline order is q_pre_rope L1 on rank 1" "$md" || { fail "report: earliest rank not said"; grep -n "earliest" "$md"; }

set +e
bash "$S/scripts/cluster_diff.sh" -l "$L" -b "$B/tools" -o "$OUT/good" "$OUT/data/good-rank%r.tt" \
   "$OUT/data/ref-rank%r.tt" > "$OUT/good.txt" 2>&1
rc=$?
set -e
[ "$rc" -eq 0 ] || { fail "good run: exit $rc, wanted 0"; cat "$OUT/good.txt"; }
grep -q "no mismatch on 4 rank(s)" "$OUT/good.txt" || { fail "good run: summary"; cat "$OUT/good.txt"; }

rm "$OUT/data/good-rank2.tt"
set +e
bash "$S/scripts/cluster_diff.sh" -l "$L" -b "$B/tools" -o "$OUT/missing" "$OUT/data/good-rank%r.tt" \
   "$OUT/data/ref-rank%r.tt" > "$OUT/missing.txt" 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || { fail "missing input: exit $rc, wanted 2"; cat "$OUT/missing.txt"; }
grep -q "rank 2: tracediff failed" "$OUT/missing.txt" || { fail "missing input: rank 2 not named"; cat "$OUT/missing.txt"; }
grep -q "good-rank2.tt: cannot open" "$OUT/missing.txt" || { fail "missing input: file not named"; cat "$OUT/missing.txt"; }

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "cluster_diff.sh: all cases passed"
