#!/bin/sh
# tracediff on tinylm (samples/tinylm): the correct engine is STRUCTURAL_DRIFT with no mismatch (f32 and bf16);
# every bug switch is a MISMATCH whose first failure and root cause are the ones samples/tinylm/README.md
# documents; kv_aligned catches kv-offset (and mask, in bf16 too) with its cache checks; the JSON validates
# against the schema; the TSV has the seeds' columns.
# usage: test_tracediff_tinylm.sh TINYLM TRACEDIFF OUTDIR SCHEMA [PYTHON3]
set -u
TL=$1 TD=$2 OUT=$3 SCHEMA=$4 PY=${5:-/usr/bin/python3}
rm -rf "$OUT" # tracediff does not replace the outputs of an earlier run without -f
mkdir -p "$OUT"
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# field FILE EXPR: a value from the JSON (python)
field() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

for dt in f32 bf16; do
  for bug in none rope-pos mask kv-offset softmax-scale norm-eps; do
    "$TL" -o "$OUT/$bug.$dt.tt" --dtype $dt --bug $bug -q || { bad "tinylm $bug $dt"; continue; }
  done
  # correct engine
  "$TD" -q --json "$OUT/none.$dt.json" --tsv "$OUT/none.$dt.tsv" "$OUT/none.$dt.tt"; rc=$?
  [ $rc -eq 0 ] && ok || bad "none $dt: exit $rc, expected 0"
  v=$(field "$OUT/none.$dt.json" "d['verdict'], d['counts']['mismatch'], d['counts']['missing']")
  [ "$v" = "STRUCTURAL_DRIFT 0 0" ] && ok || bad "none $dt: $v"
  "$TD" -q --mode kv_aligned --json "$OUT/none.kv.$dt.json" "$OUT/none.$dt.tt"; rc=$?
  v=$(field "$OUT/none.kv.$dt.json" "d['verdict'], sum(k['result']=='fail' for k in d['kv_checks']), len(d['kv_checks'])>0")
  [ $rc -eq 0 ] && [ "$v" = "STRUCTURAL_DRIFT 0 True" ] && ok || bad "none kv_aligned $dt: exit $rc, $v"
  head -1 "$OUT/none.$dt.tsv" | grep -q "^PROMPT	TOKEN_ID	POS_ID	LAYER	FIRST_FAIL	ROOT_CAUSE	DETAILS$" && ok ||
    bad "tsv header"
  [ "$(wc -l < "$OUT/none.$dt.tsv")" -eq 4 ] && ok || bad "tsv rows"

  # bugs: point layer root_cause
  for spec in "rope-pos q_post_rope 0 ROPE_DRIFT" "mask k_cache 1 KV_CACHE_DRIFT" \
              "kv-offset k_cache 0 KV_CACHE_DRIFT" "softmax-scale attn_scores 0 ATTN_SCORES_DRIFT" \
              "norm-eps attn_norm_out 0 ATTN_NORM_DRIFT"; do
    set -- $spec
    bug=$1 want="$2 $3 $4"
    "$TD" -q --json "$OUT/$bug.$dt.json" "$OUT/$bug.$dt.tt"; rc=$?
    [ $rc -eq 1 ] && ok || bad "$bug $dt: exit $rc, expected 1"
    got=$(field "$OUT/$bug.$dt.json" "d['first_failure']['point'], d['first_failure']['layer'], d['first_failure']['root_cause']")
    [ "$got" = "$want" ] && ok || bad "$bug $dt: first failure '$got', expected '$want'"
    v=$(field "$OUT/$bug.$dt.json" "d['verdict'], d['subcause']")
    [ "$v" = "MISMATCH $4" ] && ok || bad "$bug $dt verdict: $v"
    # decode0 of the buggy run against decode0 of the correct run: the same first failure
    "$TD" -q --json "$OUT/$bug.vs.$dt.json" --left phase=decode0 --right phase=decode0 "$OUT/$bug.$dt.tt" "$OUT/none.$dt.tt"
    got=$(field "$OUT/$bug.vs.$dt.json" "d['first_failure']['point'], d['first_failure']['layer'], d['first_failure']['root_cause']")
    case $bug in mask) ;; *) [ "$got" = "$want" ] && ok || bad "$bug vs none $dt: '$got', expected '$want'";; esac
  done
  # kv_aligned: the cache checks catch kv-offset (the decode row) and mask (prefill rows, bitwise)
  for bug in kv-offset mask; do
    "$TD" -q --mode kv_aligned --json "$OUT/$bug.kv.$dt.json" "$OUT/$bug.$dt.tt"; rc=$?
    v=$(field "$OUT/$bug.kv.$dt.json" "d['verdict'], d['subcause'], any(k['result']=='fail' and k['point']=='k_cache' for k in d['kv_checks'])")
    [ $rc -eq 1 ] && [ "$v" = "MISMATCH KV_CACHE_DRIFT True" ] && ok || bad "$bug kv_aligned $dt: exit $rc, $v"
  done
  v=$(field "$OUT/kv-offset.kv.$dt.json" "sorted(set(k['kind'] for k in d['kv_checks'] if k['result']=='fail'))")
  [ "$v" = "['cache_prefix', 'cache_write']" ] && ok || bad "kv-offset checks $dt: $v"
  v=$(field "$OUT/mask.kv.$dt.json" "min(k['layer'] for k in d['kv_checks'] if k['result']=='fail' and k['kind']=='cache_prefix')")
  [ "$v" = "1" ] && ok || bad "mask prefix check from layer 1 ($dt): $v"
  # as_designed reproduces the legacy probe: hash FAIL at the first stage whose bits differ
  "$TD" -q --mode as_designed --json "$OUT/none.ad.$dt.json" "$OUT/none.$dt.tt"; rc=$?
  want=$( [ $dt = f32 ] && echo "q_pre_rope 0 Q_PRE_ROPE_DRIFT" || echo "attn_out 0 ATTN_OUT_DRIFT")
  got=$(field "$OUT/none.ad.$dt.json" "d['first_failure']['point'], d['first_failure']['layer'], d['first_failure']['root_cause']")
  [ $rc -eq 1 ] && [ "$got" = "$want" ] && ok || bad "as_designed none $dt: exit $rc, '$got', expected '$want'"
done

# a full prefill capture: row alignment against decode0, the causal check in kv_aligned mode
"$TL" -o "$OUT/maskfull.tt" --bug mask --capture-full-prefill -q && "$TL" -o "$OUT/nonefull.tt" --capture-full-prefill -q
"$TD" -q --align pos --left phase=prefill --right phase=decode0 --mode kv_aligned --json "$OUT/nonefull.json" "$OUT/nonefull.tt"; rc=$?
v=$(field "$OUT/nonefull.json" "d['verdict'], d['counts']['pairs'], d['counts']['missing']")
[ $rc -eq 0 ] && [ "$v" = "STRUCTURAL_DRIFT 198 0" ] && ok || bad "full prefill aligned: exit $rc, $v"
"$TD" -q --align pos --left phase=prefill --right phase=decode0 --mode kv_aligned --json "$OUT/maskfull.json" "$OUT/maskfull.tt"; rc=$?
v=$(field "$OUT/maskfull.json" "d['first_failure']['point'], d['first_failure']['layer'], d['first_failure']['root_cause']")
[ $rc -eq 1 ] && [ "$v" = "attn_probs 0 CAUSAL_MASK_DRIFT" ] && ok || bad "mask full prefill causal: exit $rc, $v"
"$TD" -q --json "$OUT/maskfull.vs.json" "$OUT/maskfull.tt" "$OUT/nonefull.tt"
v=$(field "$OUT/maskfull.vs.json" "d['first_failure']['point'], d['first_failure']['layer'], d['first_failure']['root_cause']")
[ "$v" = "attn_scores 0 ATTN_SCORES_DRIFT" ] && ok || bad "mask full prefill vs correct: $v"

# calibration round trip: calibrated from the correct engine, a bug still fails and the correct engine passes
"$TD" -q --calibrate "$OUT/cal.tol" "$OUT/none.bf16.tt" && ok || bad "calibrate"
"$TD" -q --tol-file "$OUT/cal.tol" "$OUT/none.bf16.tt" && ok || bad "calibrated correct engine"
"$TD" -q --tol-file "$OUT/cal.tol" "$OUT/norm-eps.bf16.tt"; [ $? -eq 1 ] && ok || bad "calibrated norm-eps"

# every JSON document validates against the schema
if "$PY" -c "import jsonschema" 2>/dev/null; then
  for j in "$OUT"/*.json; do
    "$PY" -c "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))" "$j" "$SCHEMA" \
      && ok || bad "schema: $j"
  done
else
  echo "python3-jsonschema not installed: schema validation skipped"
fi
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
