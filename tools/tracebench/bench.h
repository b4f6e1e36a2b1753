/*
 * bench.h — what tracebench's parts share: the parsed options, the results each benchmark fills, and the
 * output of results (human lines or one JSON object).
 *
 * Two benchmarks:
 *   throughput (default)  puts --size bytes of activation-like tensors through a writer, reads them all back,
 *                         checks every byte, and reports GB/s, the compression ratio and the writer's peak memory;
 *                         optionally the zstd CLI on the very same bytes (--save-raw, --compare-zstd).
 *   points (--points FILE) writes a real trace's tensors again with each payload filter and compares the stored
 *                         bytes per capture point.
 *   open (--open-bench)   writes --records small tensors, then times opening the trace and reading the one in the
 *                         middle, warm (page cache) and after evicting the file from the page cache.
 */
#ifndef TRACEBENCH_H
#define TRACEBENCH_H

#include <stdint.h>

#include "tt/common.h"
#include "tt/writer.h"

typedef struct bench_opts {
    /* data */
    uint64_t size;       /* tensor bytes to put (throughput) */
    tt_dtype dtype;      /* TT_BF16 or TT_F32 */
    uint64_t tokens, hidden;
    uint32_t pool;       /* distinct generated tensors */
    uint32_t outliers;   /* outlier channels */
    uint64_t seed;
    /* writer */
    uint32_t threads;
    int level;
    tt_shuffle shuffle;
    tt_payload_filter filter;
    int compare_shuffle; /* each round also writes and reads with filter shuffle (the format 1.0 path) */
    const char *points;  /* --points FILE: re-encode a trace's tensors both ways, a table per point */
    uint32_t chunk;      /* 0 = library default */
    uint64_t inflight;   /* 0 = library default */
    tt_mode mode;
    /* files */
    const char *out;     /* NULL: a temporary file, removed unless keep */
    int keep;
    int force;           /* -f: --out and --save-raw may replace existing files */
    const char *save_raw;
    int compare_zstd;
    int cold_read;
    /* open benchmark */
    int open_bench;
    uint64_t records;
    uint64_t small;      /* elements per small tensor */
    uint32_t runs;
    uint32_t repeat;     /* throughput: write/read/zstd rounds, interleaved; medians are reported */
    /* output */
    int json;
} bench_opts;

#define BENCH_MAX_REPEAT 50

/* Results of the throughput benchmark. Times in seconds, sizes in bytes. Per-round times are kept in the
 * arrays (rounds entries); the single values are their medians. */
typedef struct bench_result {
    uint64_t tensors, tensor_bytes, total_bytes;
    uint32_t rounds;
    double gen_s;
    double write_s, write_cpu_s;
    double write_runs[BENCH_MAX_REPEAT], write_cpu_runs[BENCH_MAX_REPEAT];
    double write_other_runs[BENCH_MAX_REPEAT]; /* CPU time other processes took during the write */
    double write_other_s;
    uint64_t file_bytes;
    tt_writer_counters counters;
    double read_s;            /* < 0: not measured (modes without payload) */
    double read_runs[BENCH_MAX_REPEAT];
    double read_cpu_s, read_cpu_runs[BENCH_MAX_REPEAT];
    /* --compare-shuffle: the same rounds with filter shuffle */
    int base_done;
    uint64_t base_file_bytes;
    double base_write_s, base_write_cpu_s, base_read_s, base_read_cpu_s;
    double base_write_runs[BENCH_MAX_REPEAT], base_write_cpu_runs[BENCH_MAX_REPEAT];
    double base_read_runs[BENCH_MAX_REPEAT], base_read_cpu_runs[BENCH_MAX_REPEAT];
    uint64_t read_records;
    int verified;             /* every tensor (or hash) checked equal, in every round */
    uint64_t mismatches;
    /* memory: the highest peak of the write phases */
    int hwm_reset;            /* VmHWM was reset before each write phase */
    uint64_t pool_bytes, baseline_rss, peak_rss;
    /* zstd CLI */
    int zstd_done;
    double zstd_s, zstd_cpu_s, zstd_dec_s;
    double zstd_runs[BENCH_MAX_REPEAT], zstd_cpu_runs[BENCH_MAX_REPEAT];
    double zstd_other_runs[BENCH_MAX_REPEAT], zstd_other_s; /* other processes' CPU time during zstd */
    uint64_t zstd_bytes;
    char zstd_cmd[128];
    double cold_resident;     /* --cold-read: fraction of the file still cached after eviction */
    double loadavg[2];        /* 1-minute load average before and after: other work on the machine skews times */
} bench_result;

/* Results of the open benchmark. Times in milliseconds unless said. */
typedef struct open_result {
    uint64_t records, record_bytes, file_bytes, target;
    double write_s;
    double warm_ms[3], warm_open_ms, warm_read_ms; /* open+read: min, median, max; medians of the parts */
    double cold_ms[3], cold_open_ms, cold_read_ms;
    double cold_resident;     /* worst fraction of the file still cached after eviction; -1 unknown */
    int verified;
    uint64_t peak_rss;        /* whole run */
    uint64_t write_baseline_rss, write_peak_rss; /* RSS before the write, peak during it (VmHWM reset first) */
    uint64_t read_baseline_rss, read_peak_rss;   /* the same around the timed open + read runs */
    int hwm_reset;
    double loadavg[2];
} open_result;

/* Results of --points: stored bytes per (point, dtype) for each pass (filter shuffle, auto, float, and auto with
 * every tensor put as rank 1, which leaves the writer no row width: what FLOAT's row model buys). */
#define POINTS_PASSES 4
#define POINTS_MAX_ROWS 256
typedef struct point_row {
    char point[128];
    tt_dtype dtype;
    uint64_t records, raw, stored[POINTS_PASSES];
} point_row;

typedef struct points_result {
    point_row rows[POINTS_MAX_ROWS];
    uint32_t nrows;
    double write_cpu_s[POINTS_PASSES];
} points_result;

/* Median of n values (sorts a copy). */
double bench_median(const double *v, uint32_t n);

/* Failures are reported by the benchmarks themselves (cli_error) and returned as CLI_EXIT_* codes. */
int bench_throughput(const bench_opts *o, const char *trace_path, bench_result *r);
int bench_open(const bench_opts *o, const char *trace_path, open_result *r);
int bench_points(const bench_opts *o, const char *tmp_path, points_result *r);

/* Writer options from the command line. */
void bench_writer_options(const bench_opts *o, tt_writer_options *wo);

/* The key of put number k: a few capture points over 32 layers, then the next step. */
void bench_key(uint64_t k, uint64_t rows, tt_key *key);

#endif /* TRACEBENCH_H */
