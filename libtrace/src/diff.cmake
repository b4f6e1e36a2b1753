# The diff engine (tt/diff.h): pairing, metrics, verdicts, first failure, KV-cache checks. Included by
# libtrace/CMakeLists.txt; paths are relative to libtrace/. Needs nothing beyond libtrace's own dependencies
# (JSON and TSV are rendered by tools/tracediff).
list(APPEND TT_LIBTRACE_SOURCES
  src/diff.c
  src/diff_run.c
  src/diff_judge.c
  src/diff_metrics.c
  src/diff_simd.c
  src/diff_kv.c
  src/diff_tol.c)
