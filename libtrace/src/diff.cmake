# The diff engine (tt/diff.h): pairing, metrics, verdicts, first failure, KV-cache checks. Included by
# libtrace/CMakeLists.txt; paths are relative to libtrace/. The JSON document of a run (tt_diff_json) is rendered
# with cJSON, so every caller gets the same one; the text summary and TSV are tools/tracediff's.
list(APPEND TT_LIBTRACE_SOURCES
  src/diff.c
  src/diff_run.c
  src/diff_judge.c
  src/diff_metrics.c
  src/diff_simd.c
  src/diff_kv.c
  src/diff_tol.c
  src/diff_json.c)
