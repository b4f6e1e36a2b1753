#!/bin/sh
# The judgement's cases (tools/tracediff/README.md, "Judgement"), on synthetic 12-layer pipelines written by
# diff_casegen through the public writer API (drift growing with depth, bf16 engines keeping attention scores and
# probabilities in f32):
#   correct engines (f32, bf16, 2000x massive channels, mixed f32/bf16 sides, 3 seeds each): 0 mismatch;
#   1. an f32 stage computed from bf16 inputs is judged at bf16: no false alarm (the correct bf16 runs);
#   2. a fault over bitwise-equal inputs (3.4 %, the V-cache case) is found at its stage, and a fresh 1 % one in
#      bf16 is found at its stage with its own evidence kind (fresh);
#   3. two channels at 2000x do not hide a 10 % / 30 %-of-RMS fault at L5 mlp_out;
#   4. mixed sides (left f32, right bf16) find a 3 % fault at L6 attn_out, and say the dtypes in text and JSON;
#   5. NaN on both sides (one element, a whole tensor) is a MISMATCH with root cause NONFINITE, exit 1, naming
#      where it first appears; --allow-nonfinite accepts agreeing ones and still says so;
#   6. a 0.3 % scale error from L6 on in bf16 is found at L6 by the fit (t statistic reported); a 3 % fault too;
#   7. --calibrate on a good run with massive channels is not looser than the defaults, and with it a 10 % fault
#      at L6 attn_out is found at L6;
#   8. a damaged payload is an input error: exit 2 naming the file and the offset;
#   9. a side that is all NaN: the headline does not claim max |diff| 0, rel L2 0, cosine 1.
# The JSON of every run validates against the schema when python3 with jsonschema is given.
# usage: test_tracediff_cases.sh TRACEDIFF DIFF_CASEGEN OUTDIR [PYTHON3 SCHEMA]
set -u
TD=$1 GEN=$2 OUT=$3 PY=${4:-/usr/bin/python3}
SCHEMA=$(dirname "$0")/../../schemas/diff.schema.json
rm -rf "$OUT"    # a fresh directory: tracediff never replaces an existing output without -f
mkdir -p "$OUT"
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
field() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
validate() {
  "$PY" -c "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))" \
    "$1" "$SCHEMA" 2>"$OUT/schema.err" && ok || { bad "schema: $1"; head -3 "$OUT/schema.err"; }
}
# run NAME EXPECTED_EXIT [tracediff options --] SCENARIO [generator options]: generates OUT/NAME, runs tracediff
run() {
  name=$1 want=$2
  shift 2
  opts=""
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts="$opts $1"; shift; done
  shift
  "$GEN" "$OUT/$name" "$@" || { bad "generator $name"; return; }
  # shellcheck disable=SC2086
  "$TD" $opts --json "$OUT/$name.json" "$OUT/$name/left.tt" "$OUT/$name/right.tt" >"$OUT/$name.txt" 2>&1
  rc=$?
  [ $rc -eq "$want" ] && ok || { bad "$name: exit $rc, expected $want"; cat "$OUT/$name.txt"; }
  validate "$OUT/$name.json"
}
# first NAME "POINT LAYER ROOT_CAUSE": the first failure
first() {
  got=$(field "$OUT/$1.json" "d['first_failure']['point'], d['first_failure']['layer'], d['first_failure']['root_cause']")
  [ "$got" = "$2" ] && ok || bad "$1: first failure '$got', expected '$2'"
}
decided() {
  got=$(field "$OUT/$1.json" "d['first_failure']['judgement']['decided_by']")
  case " $2 " in *" $got "*) ok ;; *) bad "$1: decided by '$got', expected one of '$2'" ;; esac
}

# correct engines: 0 mismatch
for seed in 1 2 3; do
  for dt in f32 bf16; do
    run "drift_${dt}_$seed" 0 -- drift --dtype $dt --seed $seed
  done
  run "drift_massive_$seed" 0 -- drift --massive 2000 --seed $seed
  run "drift_mixed_$seed" 0 -- drift --left-dtype f32 --seed $seed
done
# 1: attn_scores/attn_probs are f32 from bf16 q/k: judged at bf16
got=$(field "$OUT/drift_bf16_1.json" "[(p['left']['dtype'], p['judgement']['precision']) for p in d['pairs'] if p['point']=='attn_probs'][0]")
[ "$got" = "('f32', 'bf16')" ] && ok || bad "case 1: attn_probs dtype/precision $got"

# 2: over bitwise-equal inputs
run v_cache 1 -- exact --point attn_out --layer 0 --mag 0.034
first v_cache "attn_out 0 ATTN_OUT_DRIFT"
run fresh_exact 1 -- exact --point attn_out --layer 0 --mag 0.01
first fresh_exact "attn_out 0 ATTN_OUT_DRIFT"
decided fresh_exact "fresh"
got=$(field "$OUT/fresh_exact.json" "[e['kind'] for e in d['evidence'] if e['pair']==d['first_failure']['pair']]")
[ "$got" = "['fresh']" ] && ok || bad "fresh_exact evidence $got"
run fresh_drift 1 -- fresh --point mlp_out --layer 0 --mag 0.01
first fresh_drift "mlp_out 0 MLP_OUT_DRIFT"

# 3: massive channels
for mag in 0.1 0.3; do
  run "massive_$mag" 1 -- fault --massive 2000 --point mlp_out --layer 5 --mag $mag
  first "massive_$mag" "mlp_out 5 MLP_OUT_DRIFT"
done
got=$(field "$OUT/massive_0.1.json" "d['first_failure']['judgement']['outliers'] > 0 and 'outliers' in d['pairs'][d['first_failure']['pair']]['flags']")
[ "$got" = "True" ] && ok || bad "massive: outliers not reported ($got)"

# 4: mixed sides
run mixed 1 -- fault --left-dtype f32 --point attn_out --layer 6 --mag 0.03
first mixed "attn_out 6 ATTN_OUT_DRIFT"
grep -q "dtypes differ: left f32, right bf16" "$OUT/mixed.txt" && ok || bad "mixed: the text does not say the dtypes"
got=$(field "$OUT/mixed.json" "d['counts']['mixed_dtypes'] > 0, d['first_failure']['judgement']['ulp_dtype'], any(e['kind']=='dtypes' for e in d['evidence'])")
[ "$got" = "True bf16 True" ] && ok || bad "mixed JSON: $got"

# 5: NaN / Inf never silent
run nan_one 1 -- nan --point attn_scores --layer 4
first nan_one "attn_scores 4 NONFINITE"
grep -q "NaN/Inf on the left side first at attn_scores L4" "$OUT/nan_one.txt" && ok || bad "nan_one: text"
got=$(field "$OUT/nan_one.json" "d['first_nonfinite']['left']['layer'], d['first_nonfinite']['right']['values']['first'], d['verdict']")
[ "$got" = "4 17 MISMATCH" ] && ok || bad "nan_one JSON: $got"
run nan_allowed 0 --allow-nonfinite -- nan --point attn_scores --layer 4
grep -q "NaN/Inf on the right side first at attn_scores L4" "$OUT/nan_allowed.txt" && ok || bad "nan_allowed: text"
run nan_tensor 1 -- nan --point attn_scores --layer 4 --mag 1
first nan_tensor "attn_scores 4 NONFINITE"

# 6: structured errors
run scale 1 -- scale --layer 6 --mag 0.003
first scale "attn_norm_out 6 ATTN_NORM_DRIFT"
decided scale "scale"
got=$(field "$OUT/scale.json" "abs(d['first_failure']['judgement']['fit']['alpha'] - 0.003) < 0.001 and abs(d['first_failure']['judgement']['fit']['alpha_t']) > 10")
[ "$got" = "True" ] && ok || bad "scale fit: $got"
run fault_bf16 1 -- fault --point attn_out --layer 6 --mag 0.03
first fault_bf16 "attn_out 6 ATTN_OUT_DRIFT"

# 7: calibration robust to massive channels
"$GEN" "$OUT/cal_good" drift --massive 2000 --seed 11 || bad "generator cal_good"
"$TD" -q --calibrate "$OUT/good.tol" "$OUT/cal_good/left.tt" "$OUT/cal_good/right.tt" || bad "calibrate: exit $?"
loose=$(awk '!/^#/ && NF == 4 { a = $4; sub("rms", "", a); if (a + 0 > 0.125) n++ } END { print n + 0 }' "$OUT/good.tol")
[ "$loose" = "0" ] && ok || bad "calibrate: $loose entries looser than the bf16 default 0.125rms"
run calibrated 1 --tol-file "$OUT/good.tol" -- fault --massive 2000 --point attn_out --layer 6 --mag 0.1 --seed 11
first calibrated "attn_out 6 ATTN_OUT_DRIFT"

# 8: a damaged payload is an input error naming file and offset
cp "$OUT/drift_bf16_1/left.tt" "$OUT/damaged.tt"
size=$(wc -c < "$OUT/damaged.tt")
printf '\125\252\125\252' | dd of="$OUT/damaged.tt" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
"$TD" "$OUT/damaged.tt" "$OUT/drift_bf16_1/right.tt" >"$OUT/damaged.txt" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "damaged.tt.*offset [0-9]" "$OUT/damaged.txt" && ok ||
  { bad "damaged: exit $rc (expected 2 naming file and offset)"; cat "$OUT/damaged.txt"; }

# 9: honest headline when a side is all NaN
run nan_left 1 -- nan --point attn_out --layer 4 --mag 2
first nan_left "attn_out 4 NONFINITE"
grep -A3 "first failure" "$OUT/nan_left.txt" | grep -q "rel L2 0, cosine 1" && bad "nan_left: headline claims agreement" || ok
grep -q "no element is finite on both sides" "$OUT/nan_left.txt" && ok || bad "nan_left: text"
got=$(field "$OUT/nan_left.json" "d['first_failure']['metrics']['rel_l2'], d['first_failure']['judgement']['nonfinite_left']['nan']")
[ "$got" = "None 4096" ] && ok || bad "nan_left JSON: $got"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
