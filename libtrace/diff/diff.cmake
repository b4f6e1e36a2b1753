# The diff engine (tt/diff.h), a one-way pipeline: pair -> measure -> judge -> explain (core.h). Included by
# libtrace/CMakeLists.txt; paths are relative to libtrace/. Needs nothing beyond libtrace's own dependencies (JSON
# and TSV are rendered by tools/tracediff).
list(APPEND TT_LIBTRACE_SOURCES
  diff/core.c
  diff/tol.c
  diff/pair.c
  diff/measure.c
  diff/measure_kernel.c
  diff/measure_simd.c
  diff/judge.c
  diff/judge_kv.c
  diff/explain.c
  diff/diff.c)
