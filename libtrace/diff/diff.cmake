# The diff engine (tt/diff.h), a one-way pipeline: pair -> measure -> judge -> explain (core.h). Included by
# libtrace/CMakeLists.txt; paths are relative to libtrace/. The JSON document of a finished run (tt_diff_json, json.c)
# is rendered here with cJSON, so every caller gets the same one; the text summary and TSV are tools/tracediff's.
list(APPEND TT_LIBTRACE_SOURCES
  diff/core.c
  diff/tol.c
  diff/pair.c
  diff/gather.c
  diff/plan.c
  diff/measure.c
  diff/measure_kernel.c
  diff/measure_simd.c
  diff/judge.c
  diff/judge_kv.c
  diff/explain.c
  diff/json.c
  diff/diff.c)
