#!/bin/sh
# test_tracediff_tp.sh — several files per side and tensor-parallel gather, end to end through the tools:
#   TP=2/4/8 (bf16 and f32) against TP=1: no MISMATCH; a bug on one rank: found and the rank named (text, JSON);
#   a shard missing or held twice: a MISMATCH naming the rank; rank by rank when both sides have the same layout;
#   the side forms (quoted glob, shell-expanded operands, --left-file/--right-file); bad inputs (a pattern that
#   matches nothing, files of different runs, two files of one rank, an unreadable file among many) with exit 2
#   and the file named; tracedump/trace2jsonl over several files; the two-pass capture (hash run, --plan, partial
#   full capture, diff).
# Every JSON written is checked against schemas/diff.schema.json.
# usage: test_tracediff_tp.sh BUILD_DIR OUT_DIR PYTHON3 SCHEMA
set -eu
B=$1 OUT=$2 PY=$3 SCHEMA=$4
TD=$B/tools/tracediff/tracediff DUMP=$B/tools/tracedump/tracedump T2J=$B/tools/trace2jsonl/trace2jsonl
GEN=$B/tests/diff/diff_shardgen
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# run EXPECTED_EXIT CMD...: output in out.txt
run() {
  want=$1; shift
  set +e; "$@" > out.txt 2>&1; got=$?; set -e
  [ "$got" -eq "$want" ] || { fail "exit $got (wanted $want): $*"; cat out.txt; }
}
has() { grep -q -- "$1" out.txt || { fail "output lacks '$1'"; cat out.txt; }; }
json() { "$PY" -c "import json,sys; d=json.load(open('$1')); sys.exit(0 if ($2) else 1)" || fail "json $1: $2"; }

# TP=N against TP=1: drift only
for dt in bf16 f32; do
  for tp in 2 4 8; do
    mkdir -p "ok$tp$dt"
    "$GEN" "ok$tp$dt" --tp "$tp" --dtype "$dt" --layers 6 --rows 16
    run 0 "$TD" "ok$tp$dt/tp-rank*.tt" "ok$tp$dt/ref.tt" --json "ok$tp$dt/d.json"
    json "ok$tp$dt/d.json" "d['counts']['mismatch'] == 0 and d['counts']['missing'] == 0 and len(d['left']['files']) == $tp"
    # the gathered pairs: SPLIT q and PARTIAL attn_out, each with all N shards
    json "ok$tp$dt/d.json" "any(p['left'] and p['left'].get('gathered', {}).get('kind') == 'partial' and len(p['left']['gathered']['ranks']) == $tp for p in d['pairs'])"
  done
done

# a bug on one rank: found, the rank named
for tp in 2 4 8; do
  r=$((tp - 1))
  mkdir -p "bug$tp"
  "$GEN" "bug$tp" --tp "$tp" --bug-rank "$r" --layers 6 --rows 16
  run 1 "$TD" "bug$tp/tp-rank*.tt" "bug$tp/ref.tt" --json "bug$tp/d.json"
  has "first failure: q_pre_rope L1 on rank $r "
  json "bug$tp/d.json" "d['verdict'] == 'MISMATCH' and d['first_failure']['rank'] == $r and d['first_failure']['point'] == 'q_pre_rope'"
done
# split along the rows: the rank of the rows that differ
mkdir -p rows && "$GEN" rows --tp 4 --bug-rank 2 --split-dim 0
run 1 "$TD" "rows/tp-rank*.tt" rows/ref.tt
has "q_pre_rope L1 on rank 2 "

# a shard missing, a shard held twice
mkdir -p drop dup
"$GEN" drop --tp 4 --drop-rank 1
run 1 "$TD" "drop/tp-rank*.tt" drop/ref.tt --json drop/d.json
has "shard 1 of 4 is missing: rank 1 holds no partial shard"
json drop/d.json "d['first_failure']['rank'] == 1"
"$GEN" dup --tp 4 --dup-rank 3
run 1 "$TD" "dup/tp-rank*.tt" dup/ref.tt
has "shard 2 of 4 is held twice: by rank 2 and by rank 3"
has "on rank 3 "

# rank by rank: two TP=4 runs, one with a bug on rank 1
mkdir -p rr
"$GEN" rr --tp 4 --prefix good --no-ref
"$GEN" rr --tp 4 --prefix bad --bug-rank 1 --no-ref
run 0 "$TD" "rr/good-rank*.tt" "rr/good-rank*.tt"
has "key prompt_id,phase,step,token_id,logical_tok_idx,pos_id,rank,layer,point"
run 1 "$TD" "rr/bad-rank*.tt" "rr/good-rank*.tt" --json rr/d.json
has "on rank 1 "
json rr/d.json "d['first_failure']['rank'] == 1 and 'rank' in d['key']"

# the side forms: shell-expanded operands (the last is RIGHT), --left-file / --right-file
run 1 "$TD" bug4/tp-rank0.tt bug4/tp-rank1.tt bug4/tp-rank2.tt bug4/tp-rank3.tt bug4/ref.tt
has "left  bug4/tp-rank0.tt (+3 files)"
run 1 "$TD" --right-file bug4/ref.tt bug4/tp-rank*.tt
has "on rank 3 "
run 1 "$TD" --left-file 'bug4/tp-rank*.tt' --right-file bug4/ref.tt
run 2 "$TD" --left-file 'bug4/tp-rank*.tt' --right-file bug4/ref.tt extra.tt
has "unexpected argument 'extra.tt'"

# bad inputs: exit 2, the file named
mkdir -p ok4bf16b && "$GEN" ok4bf16b --tp 4 --layers 6 --rows 16 --no-ref
run 2 "$TD" "nothing/rank*.tt" ok4bf16/ref.tt
has "nothing/rank\*.tt: no file matches this pattern"
run 2 "$TD" ok4bf16/tp-rank0.tt ./ok4bf16/tp-rank0.tt ok4bf16/ref.tt
has "ok4bf16/tp-rank0.tt: the same file as ok4bf16/tp-rank0.tt, given twice"
run 2 "$TD" ok4bf16/tp-rank0.tt ok4bf16b/tp-rank0.tt ok4bf16/ref.tt
has "both hold rank 0"
run 2 "$TD" ok4bf16/tp-rank0.tt ok8bf16/tp-rank1.tt ok4bf16/ref.tt
has "ok8bf16/tp-rank1.tt: from another run than ok4bf16/tp-rank0.tt (world_size"
echo "not a trace" > notatrace.tt
run 2 "$TD" ok4bf16/tp-rank0.tt notatrace.tt ok4bf16/ref.tt
has "notatrace.tt"
run 2 "$DUMP" "ok4bf16/tp-rank*.tt" notatrace.tt
has "notatrace.tt"

# tracedump and trace2jsonl over several files: one trace, records of every rank
run 0 "$DUMP" "ok4bf16/tp-rank*.tt"
has "rank 3: ok4bf16/tp-rank3.tt"
run 0 "$DUMP" --list --where point=attn_out ok4bf16/tp-rank*.tt
[ "$(grep -c attn_out out.txt)" -eq 24 ] || fail "tracedump --list: $(grep -c attn_out out.txt) attn_out records, wanted 24 (6 layers x 4 ranks)"
run 0 "$T2J" --extra --where layer=0 "ok4bf16/tp-rank*.tt"
for r in 0 1 2 3; do grep -q "\"rank\": $r," out.txt || fail "trace2jsonl: no record of rank $r"; done

# shards without tensors (hash mode) cannot be gathered: an input error naming the record
mkdir -p hashonly
TT_TRACE_MODE=hash "$GEN" hashonly --tp 2
run 2 "$TD" "hashonly/tp-rank*.tt" hashonly/ref.tt
has "hold no tensor"

# two-pass capture: cheap (hash) traces of two TP=4 runs, the plan, a capture in full of what it names, the diff
mkdir -p plan/hash plan/full
TT_TRACE_MODE=hash "$GEN" plan/hash --tp 4 --prefix good --no-ref --layers 8
TT_TRACE_MODE=hash "$GEN" plan/hash --tp 4 --prefix bad --bug-rank 2 --bug-layer 3 --no-ref --layers 8
run 1 "$TD" "plan/hash/bad-rank*.tt" "plan/hash/good-rank*.tt" --plan --json plan/d.json
has "plan: capture in full around the first divergence (q_pre_rope L3)"
has "TT_TRACE_LAYERS=2-4"
json plan/d.json "d['plan']['env']['TT_TRACE_MODE'] == 'full' and d['plan']['env']['TT_TRACE_PROMPTS'] == 'p0' and d['first_failure']['rank'] == 2"
eval "$("$PY" -c "
import json; e=json.load(open('plan/d.json'))['plan']['env']
print(' '.join('export %s=%s' % (k, v) for k, v in e.items()))")"
"$GEN" plan/full --tp 4 --prefix good --no-ref --layers 8
"$GEN" plan/full --tp 4 --prefix bad --bug-rank 2 --bug-layer 3 --no-ref --layers 8
unset TT_TRACE_MODE TT_TRACE_PROMPTS TT_TRACE_PHASES TT_TRACE_LAYERS TT_TRACE_POINTS
run 1 "$TD" "plan/full/bad-rank*.tt" "plan/full/good-rank*.tt" --json plan/full.json
has "q_pre_rope L3 on rank 2 "
# the partial capture holds layers 2-4 only: 3 of the 8 layers' records
json plan/full.json "d['left']['records'] == 3 * 4 * 4"

# the documents against the schema (files, gathered sides, ranks, the plan)
"$PY" - "$SCHEMA" $(find . -name '*.json' | sort) <<'PYEOF' || fail "schema"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
for f in sys.argv[2:]:
    jsonschema.validate(json.load(open(f)), schema)
print("schema: %d documents valid" % (len(sys.argv) - 2))
PYEOF

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all tensor-parallel cases passed"
