/*
 * tracebench.c — the tracebench command: parses the command line, runs one of the two benchmarks (bench.h) and
 * prints its results as lines for people or as one JSON object (--json) for scripts. The numbers it prints are
 * the ones BENCHMARKS.md records, with the commands that produced them.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_sys.h"
#include "cli.h"
#include "tt/dtype.h"

#define MIB (1024.0 * 1024.0)
#define GB 1e9

static const char usage_text[] =
    "Usage: tracebench [OPTIONS]\n"
    "       tracebench --open-bench [--records N] [--small ELEMS] [OPTIONS]\n"
    "\n"
    "Measures libtrace on synthetic LLM activations: Gaussian values with a few outlier channels (20-100x), one\n"
    "scale per tensor standing for the layer, shaped [tokens, hidden]. The data is generated before any clock\n"
    "starts, as a pool of distinct tensors reused round robin with a few bytes changed per put, so the tool's own\n"
    "memory stays small whatever --size is. The write is timed from tt_writer_open to tt_writer_close, the read\n"
    "from tt_reader_open over every tt_reader_read; every byte read is checked. GB/s are 10^9 tensor bytes per\n"
    "second; ratio is tensor bytes / trace file size. Each timed phase starts after a sync(). Put the files on\n"
    "tmpfs (TMPDIR=/dev/shm) to measure the CPU side alone.\n"
    "\n"
    "Data:\n"
    "  --size SIZE        tensor bytes to write, in whole tensors, at least one (default 1G; 64k, 4M, 1G)\n"
    "  --dtype bf16|f32   element type (default bf16)\n"
    "  --tokens N         rows per tensor (default 512)\n"
    "  --hidden N         elements per row (default 4096)\n"
    "  --pool N           distinct generated tensors (default 16)\n"
    "  --outliers N       outlier channels (default 6)\n"
    "  --seed N           generator seed (default 1)\n"
    "Writer:\n"
    "  --threads N        worker threads (default min(4, CPUs))\n"
    "  --level N          zstd level, -7..22 (default 1)\n"
    "  --shuffle auto|on|off   byte shuffle filter (default auto)\n"
    "  --filter auto|float|shuffle|none  payload filter (default auto: FLOAT, exponent symbol and raw mantissa,\n"
    "                     for float chunks without repeats; float: a higher ratio for more CPU, form 1 for\n"
    "                     bf16, the wider symbol for f16 and f32)\n"
    "  --compare-shuffle  each round also writes and reads with --filter shuffle (the format 1.0 path) and\n"
    "                     reports it alongside\n"
    "  --chunk SIZE       raw bytes per payload frame (default: the library's, 4 MiB)\n"
    "  --inflight SIZE    bound on bytes in flight (default: the library's, 256 MiB)\n"
    "  --mode full|stats|hash  capture mode (default full)\n"
    "Files:\n"
    "  --out FILE         the trace (default a temporary file in $TMPDIR, removed at the end)\n"
    "  -f, --force        replace --out and --save-raw files that exist (without it, an existing file is an error)\n"
    "  --keep             keep the temporary trace and print its name\n"
    "  --save-raw FILE    also write the tensor bytes as put (concatenated), outside the clocks\n"
    "  --compare-zstd     run the zstd CLI (zstd -LEVEL -TTHREADS) on those raw bytes and report it alongside\n"
    "  --cold-read        evict the trace (and raw file) from the page cache before reading it (posix_fadvise)\n"
    "Real activations:\n"
    "  --points FILE      write every stored tensor of trace FILE again with each payload filter (shuffle, the\n"
    "                     format 1.0 path; auto; float) and print the ratio per capture point and dtype, and the\n"
    "                     write CPU seconds of each pass (--threads, --chunk and --level apply); a fourth pass,\n"
    "                     auto with every tensor put as rank 1 (no row width), shows what the row model buys\n"
    "Open benchmark:\n"
    "  --open-bench       write --records small tensors, then time opening the trace and reading the middle one\n"
    "  --records N        records (default 100000)\n"
    "  --small ELEMS      elements per small tensor, shape [1, ELEMS] (default 64)\n"
    "  --runs N           timed runs, warm and cold each (default 9); the median is reported\n"
    "Rounds:\n"
    "  --repeat N         throughput: N rounds of write, read (and zstd), interleaved; medians are reported\n"
    "                     (default 1, at most 50). On a shared machine other work skews every wall time: the\n"
    "                     CPU time other processes took during each phase is reported (/proc/stat), with the\n"
    "                     1-minute load average.\n"
    "Output:\n"
    "  --json             one JSON object on stdout\n"
    "  -h, --help         this text;  -V, --version  the version\n"
    "\n"
    "The environment's TT_TRACE_* variables are ignored: the command line says what is measured.\n" CLI_EXIT_HELP;

enum {
    OPT_SIZE = 256, OPT_DTYPE, OPT_TOKENS, OPT_HIDDEN, OPT_POOL, OPT_OUTLIERS, OPT_SEED, OPT_THREADS, OPT_LEVEL,
    OPT_SHUFFLE, OPT_CHUNK, OPT_INFLIGHT, OPT_MODE, OPT_OUT, OPT_KEEP, OPT_SAVE_RAW, OPT_COMPARE_ZSTD,
    OPT_COLD_READ, OPT_OPEN_BENCH, OPT_RECORDS, OPT_SMALL, OPT_RUNS, OPT_REPEAT, OPT_JSON, OPT_FILTER,
    OPT_COMPARE_SHUFFLE, OPT_POINTS
};

static const struct option long_opts[] = {
    {"size", required_argument, NULL, OPT_SIZE},
    {"dtype", required_argument, NULL, OPT_DTYPE},
    {"tokens", required_argument, NULL, OPT_TOKENS},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"pool", required_argument, NULL, OPT_POOL},
    {"outliers", required_argument, NULL, OPT_OUTLIERS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"level", required_argument, NULL, OPT_LEVEL},
    {"shuffle", required_argument, NULL, OPT_SHUFFLE},
    {"filter", required_argument, NULL, OPT_FILTER},
    {"compare-shuffle", no_argument, NULL, OPT_COMPARE_SHUFFLE},
    {"points", required_argument, NULL, OPT_POINTS},
    {"chunk", required_argument, NULL, OPT_CHUNK},
    {"inflight", required_argument, NULL, OPT_INFLIGHT},
    {"mode", required_argument, NULL, OPT_MODE},
    {"out", required_argument, NULL, OPT_OUT},
    {"keep", no_argument, NULL, OPT_KEEP},
    {"save-raw", required_argument, NULL, OPT_SAVE_RAW},
    {"compare-zstd", no_argument, NULL, OPT_COMPARE_ZSTD},
    {"cold-read", no_argument, NULL, OPT_COLD_READ},
    {"open-bench", no_argument, NULL, OPT_OPEN_BENCH},
    {"records", required_argument, NULL, OPT_RECORDS},
    {"small", required_argument, NULL, OPT_SMALL},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"json", no_argument, NULL, OPT_JSON},
    {"force", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static const char *const shuffle_names[] = {"auto", "on", "off"};
static const char *const filter_names[] = {"auto", "float", "shuffle", "none"};
static const char *const mode_names[] = {"default", "full", "stats", "hash", "off"};

static int parse_choice(const char *opt, const char *text, const char *const *names, int n, int first)
{
    for (int i = first; i < n; i++)
        if (strcmp(text, names[i]) == 0)
            return i;
    cli_die(CLI_EXIT_USAGE, "option %s: '%s' is not one of %s", opt, text,
            names == shuffle_names ? "auto|on|off" : names == filter_names ? "auto|float|shuffle|none" : "full|stats|hash");
}

static uint32_t default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : (uint32_t)n;
}

static void parse_args(int argc, char **argv, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = (uint64_t)1 << 30;
    o->dtype = TT_BF16;
    o->tokens = 512;
    o->hidden = 4096;
    o->pool = 16;
    o->outliers = 6;
    o->seed = 1;
    o->threads = default_threads();
    o->level = 1;
    o->shuffle = TT_SHUFFLE_AUTO;
    o->mode = TT_MODE_FULL;
    o->records = 100000;
    o->small = 64;
    o->runs = 9;
    o->repeat = 1;
    int c;
    opterr = 0; /* unknown options are reported as every tool reports them (cli_getopt_fail) */
    while ((c = getopt_long(argc, argv, ":fhV", long_opts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case OPT_SIZE: o->size = cli_parse_size("--size", a); break;
        case OPT_DTYPE:
            if (tt_dtype_from_name(a, &o->dtype) != TT_OK || (o->dtype != TT_BF16 && o->dtype != TT_F32))
                cli_die(CLI_EXIT_USAGE, "option --dtype: '%s' is not bf16 or f32", a);
            break;
        case OPT_TOKENS: o->tokens = cli_parse_u64("--tokens", a, 1, (uint64_t)1 << 24); break;
        case OPT_HIDDEN: o->hidden = cli_parse_u64("--hidden", a, 1, (uint64_t)1 << 24); break;
        case OPT_POOL: o->pool = (uint32_t)cli_parse_u64("--pool", a, 1, 4096); break;
        case OPT_OUTLIERS: o->outliers = (uint32_t)cli_parse_u64("--outliers", a, 0, 4096); break;
        case OPT_SEED: o->seed = cli_parse_u64("--seed", a, 0, UINT64_MAX); break;
        case OPT_THREADS: o->threads = (uint32_t)cli_parse_u64("--threads", a, 1, 256); break;
        case OPT_LEVEL: o->level = (int)cli_parse_i64("--level", a, -7, 22); break;
        case OPT_SHUFFLE: o->shuffle = (tt_shuffle)parse_choice("--shuffle", a, shuffle_names, 3, 0); break;
        case OPT_FILTER: o->filter = (tt_payload_filter)parse_choice("--filter", a, filter_names, 4, 0); break;
        case OPT_COMPARE_SHUFFLE: o->compare_shuffle = 1; break;
        case OPT_POINTS: o->points = a; break;
        case OPT_CHUNK: {
            uint64_t v = cli_parse_size("--chunk", a);
            if (v < 4096 || v > ((uint64_t)64 << 20) || v % 16)
                cli_die(CLI_EXIT_USAGE, "option --chunk: '%s' is not a multiple of 16 in 4k..64M", a);
            o->chunk = (uint32_t)v;
            break;
        }
        case OPT_INFLIGHT:
            o->inflight = cli_parse_size("--inflight", a);
            if (o->inflight < ((uint64_t)1 << 20))
                cli_die(CLI_EXIT_USAGE, "option --inflight: '%s' is below 1M", a);
            break;
        case OPT_MODE: o->mode = (tt_mode)parse_choice("--mode", a, mode_names, 4, 1); break;
        case OPT_OUT: o->out = a; break;
        case OPT_KEEP: o->keep = 1; break;
        case OPT_SAVE_RAW: o->save_raw = a; break;
        case OPT_COMPARE_ZSTD: o->compare_zstd = 1; break;
        case OPT_COLD_READ: o->cold_read = 1; break;
        case OPT_OPEN_BENCH: o->open_bench = 1; break;
        case OPT_RECORDS: o->records = cli_parse_u64("--records", a, 1, (uint64_t)1 << 32); break;
        case OPT_SMALL: o->small = cli_parse_u64("--small", a, 1, (uint64_t)1 << 24); break;
        case OPT_RUNS: o->runs = (uint32_t)cli_parse_u64("--runs", a, 1, 10000); break;
        case OPT_REPEAT: o->repeat = (uint32_t)cli_parse_u64("--repeat", a, 1, BENCH_MAX_REPEAT); break;
        case OPT_JSON: o->json = 1; break;
        case 'f': o->force = 1; break;
        case 'h': fputs(usage_text, stdout); exit(cli_finish(CLI_EXIT_OK));
        case 'V': cli_print_version(); exit(cli_finish(CLI_EXIT_OK));
        default: cli_getopt_fail(argv, c, optopt);
        }
    }
    if (optind < argc)
        cli_die(CLI_EXIT_USAGE, "unexpected argument '%s' (try --help)", argv[optind]);
    if (o->tokens * o->hidden > ((uint64_t)1 << 30))
        cli_die(CLI_EXIT_USAGE, "options --tokens x --hidden: %llu elements per tensor is over 2^30",
                (unsigned long long)(o->tokens * o->hidden));
    if (o->open_bench && (o->save_raw || o->compare_zstd))
        cli_die(CLI_EXIT_USAGE, "--save-raw and --compare-zstd apply to the throughput benchmark, not --open-bench");
}

/* ---- output ------------------------------------------------------------------------------------------------ */

typedef struct json_out {
    int n;
} json_out;

static void j_key(json_out *j, const char *k)
{
    printf("%s\"%s\": ", j->n++ ? ", " : "{", k);
}

static void j_num(json_out *j, const char *k, double v, int prec)
{
    j_key(j, k);
    if (isfinite(v))
        printf("%.*f", prec, v);
    else
        fputs("null", stdout);
}

static void j_u64(json_out *j, const char *k, uint64_t v)
{
    j_key(j, k);
    printf("%llu", (unsigned long long)v);
}

static void j_bool(json_out *j, const char *k, int v)
{
    j_key(j, k);
    fputs(v ? "true" : "false", stdout);
}

static void j_str(json_out *j, const char *k, const char *s)
{
    j_key(j, k);
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

/* GB/s of each round, for a reader who wants the spread and not only the median. */
static void j_gbps_runs(json_out *j, const char *k, uint64_t bytes, const double *s, uint32_t n)
{
    j_key(j, k);
    putchar('[');
    for (uint32_t i = 0; i < n; i++)
        printf("%s%.4f", i ? ", " : "", s[i] > 0 ? (double)bytes / s[i] / 1e9 : 0.0);
    putchar(']');
}

static void j_runs(json_out *j, const char *k, const double *v, uint32_t n)
{
    j_key(j, k);
    putchar('[');
    for (uint32_t i = 0; i < n; i++)
        printf("%s%.3f", i ? ", " : "", v[i]);
    putchar(']');
}

static void j_end(json_out *j)
{
    fputs(j->n ? "}\n" : "{}\n", stdout);
}

static double gbps(uint64_t bytes, double s) { return s > 0 ? (double)bytes / s / GB : NAN; }
static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : NAN; }
static double mib(uint64_t b) { return (double)b / MIB; }

/* Median over rounds of our write speed / zstd's: each round ran both back to back, so the ratio holds up
 * better than either speed on a machine other work shares. */
static double speedup(const bench_result *r)
{
    double v[BENCH_MAX_REPEAT];
    for (uint32_t i = 0; i < r->rounds; i++)
        v[i] = r->write_runs[i] > 0 ? r->zstd_runs[i] / r->write_runs[i] : NAN;
    return bench_median(v, r->rounds);
}

/* Library defaults the writer applies when an option is 0 (writer.h). */
static uint64_t eff_inflight(const bench_opts *o) { return o->inflight ? o->inflight : (uint64_t)256 << 20; }
static uint32_t eff_chunk(const bench_opts *o) { return o->chunk ? o->chunk : 4u << 20; }

static void common_json(json_out *j, const bench_opts *o, const char *bench, const char *trace)
{
    j_str(j, "bench", bench);
    j_str(j, "version", tt_version());
    j_str(j, "dtype", tt_dtype_name(o->dtype));
    j_u64(j, "threads", o->threads);
    j_num(j, "level", o->level, 0);
    j_str(j, "shuffle", shuffle_names[o->shuffle]);
    j_str(j, "filter", filter_names[o->filter]);
    j_u64(j, "chunk_bytes", eff_chunk(o));
    j_u64(j, "inflight_bytes", eff_inflight(o));
    j_str(j, "mode", mode_names[o->mode]);
    j_u64(j, "seed", o->seed);
    j_str(j, "trace", trace);
}

static void print_throughput_json(const bench_opts *o, const bench_result *r, const char *trace)
{
    json_out j = {0};
    common_json(&j, o, "throughput", trace);
    j_u64(&j, "tokens", o->tokens);
    j_u64(&j, "hidden", o->hidden);
    j_u64(&j, "tensors", r->tensors);
    j_u64(&j, "tensor_bytes", r->tensor_bytes);
    j_u64(&j, "total_bytes", r->total_bytes);
    j_u64(&j, "file_bytes", r->file_bytes);
    j_u64(&j, "stored_bytes", r->counters.bytes_stored);
    j_num(&j, "ratio", ratio(r->total_bytes, r->file_bytes), 4);
    j_num(&j, "payload_ratio", ratio(r->counters.bytes_raw, r->counters.bytes_stored), 4);
    j_num(&j, "gen_s", r->gen_s, 3);
    j_num(&j, "write_s", r->write_s, 3);
    j_num(&j, "write_cpu_s", r->write_cpu_s, 3);
    j_num(&j, "write_other_cpu_s", r->write_other_s, 3);
    j_runs(&j, "write_cpu_s_runs", r->write_cpu_runs, r->rounds);
    j_runs(&j, "write_other_cpu_s_runs", r->write_other_runs, r->rounds);
    j_num(&j, "write_gbps", gbps(r->total_bytes, r->write_s), 4);
    j_u64(&j, "rounds", r->rounds);
    j_gbps_runs(&j, "write_gbps_runs", r->total_bytes, r->write_runs, r->rounds);
    double gib = (double)r->total_bytes / (1024.0 * 1024.0 * 1024.0);
    j_num(&j, "write_cpu_s_per_gib", gib > 0 ? r->write_cpu_s / gib : NAN, 3);
    j_num(&j, "read_s", r->read_s >= 0 ? r->read_s : NAN, 3);
    j_num(&j, "read_cpu_s", r->read_s >= 0 ? r->read_cpu_s : NAN, 3);
    j_num(&j, "read_cpu_s_per_gib", r->read_s >= 0 && gib > 0 ? r->read_cpu_s / gib : NAN, 3);
    if (r->read_s >= 0)
        j_runs(&j, "read_cpu_s_runs", r->read_cpu_runs, r->rounds);
    if (r->base_done) {
        j_num(&j, "shuffle_ratio", ratio(r->total_bytes, r->base_file_bytes), 4);
        j_num(&j, "shuffle_write_s", r->base_write_s, 3);
        j_num(&j, "shuffle_write_cpu_s_per_gib", r->base_write_cpu_s / gib, 3);
        j_runs(&j, "shuffle_write_cpu_s_runs", r->base_write_cpu_runs, r->rounds);
        j_num(&j, "shuffle_read_s", r->base_read_s, 3);
        j_num(&j, "shuffle_read_cpu_s_per_gib", r->base_read_cpu_s / gib, 3);
        j_runs(&j, "shuffle_read_cpu_s_runs", r->base_read_cpu_runs, r->rounds);
        j_num(&j, "write_cpu_vs_shuffle", r->write_cpu_s / r->base_write_cpu_s, 3);
        j_num(&j, "read_cpu_vs_shuffle", r->read_cpu_s / r->base_read_cpu_s, 3);
    }
    j_num(&j, "read_gbps", r->read_s >= 0 ? gbps(r->total_bytes, r->read_s) : NAN, 4);
    if (r->read_s >= 0)
        j_gbps_runs(&j, "read_gbps_runs", r->total_bytes, r->read_runs, r->rounds);
    j_bool(&j, "cold_read", o->cold_read);
    if (o->cold_read)
        j_num(&j, "cold_resident_fraction", r->cold_resident, 4);
    j_u64(&j, "records_read", r->read_records);
    j_bool(&j, "verified", r->verified);
    j_num(&j, "peak_rss_mb", mib(r->peak_rss), 1);
    j_num(&j, "baseline_rss_mb", mib(r->baseline_rss), 1);
    j_num(&j, "writer_rss_mb", mib(r->peak_rss - r->baseline_rss), 1);
    j_num(&j, "inflight_mb", mib(eff_inflight(o)), 1);
    j_num(&j, "pool_mb", mib(r->pool_bytes), 1);
    j_bool(&j, "peak_is_write_phase", r->hwm_reset);
    j_num(&j, "loadavg_before", r->loadavg[0], 2);
    j_num(&j, "loadavg_after", r->loadavg[1], 2);
    if (r->zstd_done) {
        j_str(&j, "zstd_cmd", r->zstd_cmd);
        j_num(&j, "zstd_s", r->zstd_s, 3);
        j_num(&j, "zstd_cpu_s", r->zstd_cpu_s, 3);
        j_num(&j, "zstd_other_cpu_s", r->zstd_other_s, 3);
        j_runs(&j, "zstd_cpu_s_runs", r->zstd_cpu_runs, r->rounds);
        j_runs(&j, "zstd_other_cpu_s_runs", r->zstd_other_runs, r->rounds);
        j_num(&j, "zstd_gbps", gbps(r->total_bytes, r->zstd_s), 4);
        j_gbps_runs(&j, "zstd_gbps_runs", r->total_bytes, r->zstd_runs, r->rounds);
        j_num(&j, "write_vs_zstd", speedup(r), 3);
        j_num(&j, "zstd_ratio", ratio(r->total_bytes, r->zstd_bytes), 4);
        j_num(&j, "zstd_dec_gbps", gbps(r->total_bytes, r->zstd_dec_s), 4);
    }
    j_end(&j);
}

static void print_throughput_text(const bench_opts *o, const bench_result *r, const char *trace)
{
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    printf("data:   %s [%llu x %llu] x %llu tensors = %s (pool of %u distinct, %u outlier channels, seed %llu, "
           "generated in %.2f s)\n",
           tt_dtype_name(o->dtype), (unsigned long long)o->tokens, (unsigned long long)o->hidden,
           (unsigned long long)r->tensors, cli_human_bytes(r->total_bytes, b1, sizeof b1), o->pool, o->outliers,
           (unsigned long long)o->seed, r->gen_s);
    printf("writer: mode %s, %u threads, zstd level %d, filter %s, shuffle %s, chunk %s, in-flight %s\n",
           mode_names[o->mode], o->threads, o->level, filter_names[o->filter], shuffle_names[o->shuffle],
           cli_human_bytes(eff_chunk(o), b1, sizeof b1),
           cli_human_bytes(eff_inflight(o), b2, sizeof b2));
    printf("write:  %.3f s = %.3f GB/s (CPU %.2f s, %.2f cores; other processes took %.2f CPU s meanwhile)%s\n",
           r->write_s, gbps(r->total_bytes, r->write_s), r->write_cpu_s,
           r->write_s > 0 ? r->write_cpu_s / r->write_s : 0, r->write_other_s, r->rounds > 1 ? " [median]" : "");
    printf("file:   %s, ratio %.4f (payload only %.4f, %llu payload frames)\n",
           cli_human_bytes(r->file_bytes, b1, sizeof b1), ratio(r->total_bytes, r->file_bytes),
           ratio(r->counters.bytes_raw, r->counters.bytes_stored), (unsigned long long)r->counters.payload_frames);
    if (r->read_s >= 0)
        printf("read:   %.3f s = %.3f GB/s%s, %llu tensors %s\n", r->read_s, gbps(r->total_bytes, r->read_s),
               o->cold_read ? " (evicted from the page cache first)" : " (from the page cache)",
               (unsigned long long)r->read_records, r->verified ? "verified byte for byte" : "NOT VERIFIED");
    else
        printf("read:   %llu records, hashes %s\n", (unsigned long long)r->read_records,
               r->verified ? "verified" : "NOT VERIFIED");
    double gib = (double)r->total_bytes / (1024.0 * 1024.0 * 1024.0);
    if (r->read_s >= 0)
        printf("cpu:    write %.3f s per GiB, read %.3f s per GiB\n", r->write_cpu_s / gib, r->read_cpu_s / gib);
    if (r->base_done)
        printf("shuffle: ratio %.4f, write %.3f GB/s, CPU %.3f s per GiB; read %.3f GB/s, CPU %.3f s per GiB "
               "(--filter shuffle, same rounds)\n",
               ratio(r->total_bytes, r->base_file_bytes), gbps(r->total_bytes, r->base_write_s),
               r->base_write_cpu_s / gib, gbps(r->total_bytes, r->base_read_s), r->base_read_cpu_s / gib);
    printf("memory: peak RSS %s during the write%s = baseline %s (pool %s) + writer %s; in-flight limit %s\n",
           cli_human_bytes(r->peak_rss, b1, sizeof b1), r->hwm_reset ? "" : " (peak of the whole run)",
           cli_human_bytes(r->baseline_rss, b2, sizeof b2), cli_human_bytes(r->pool_bytes, b3, sizeof b3),
           cli_human_bytes(r->peak_rss - r->baseline_rss, b4, sizeof b4),
           cli_human_bytes(eff_inflight(o), b5, sizeof b5));
    if (r->zstd_done) {
        printf("%-7s %.3f s = %.3f GB/s (CPU %.2f s; others %.2f CPU s), ratio %.4f; decompress %.3f GB/s\n",
               r->zstd_cmd, r->zstd_s, gbps(r->total_bytes, r->zstd_s), r->zstd_cpu_s, r->zstd_other_s,
               ratio(r->total_bytes, r->zstd_bytes), gbps(r->total_bytes, r->zstd_dec_s));
        printf("vs:     write speed / %s speed = %.3f (median of the rounds' ratios)\n", r->zstd_cmd, speedup(r));
    }
    printf("load:   %u round(s); 1-minute load average %.2f before, %.2f after\n", r->rounds, r->loadavg[0],
           r->loadavg[1]);
    if (o->save_raw)
        printf("raw:    %s\n", o->save_raw);
    if (trace)
        printf("trace:  %s\n", trace);
}

static const char *const pass_names[POINTS_PASSES] = {"shuffle", "auto", "float", "auto_rank1"};

static double change_pct(uint64_t base, uint64_t now) { return base ? 100.0 * ((double)base / (double)now - 1.0) : 0; }

static void print_points_json(const bench_opts *o, const points_result *r)
{
    json_out j = {0};
    common_json(&j, o, "points", o->points);
    j_num(&j, "write_cpu_s_shuffle", r->write_cpu_s[0], 3);
    j_num(&j, "write_cpu_s_auto", r->write_cpu_s[1], 3);
    j_num(&j, "write_cpu_s_float", r->write_cpu_s[2], 3);
    j_num(&j, "write_cpu_s_auto_rank1", r->write_cpu_s[3], 3);
    uint64_t raw = 0, st[POINTS_PASSES] = {0};
    for (uint32_t i = 0; i < r->nrows; i++) {
        const point_row *p = &r->rows[i];
        char key[200];
        for (int k = 0; k < POINTS_PASSES; k++) {
            snprintf(key, sizeof key, "%s/%s/ratio_%s", p->point, tt_dtype_name(p->dtype), pass_names[k]);
            j_num(&j, key, ratio(p->raw, p->stored[k]), 4);
            st[k] += p->stored[k];
        }
        raw += p->raw;
    }
    for (int k = 0; k < POINTS_PASSES; k++) {
        char key[64];
        snprintf(key, sizeof key, "ratio_%s", pass_names[k]);
        j_num(&j, key, ratio(raw, st[k]), 4);
    }
    j_end(&j);
}

static void print_points_text(const bench_opts *o, const points_result *r)
{
    printf("%s: every stored tensor written again with each payload filter (payload bytes, frame headers "
           "included)\n\n", o->points);
    printf("| point | dtype | records | MiB | ratio shuffle | ratio auto | auto vs shuffle | ratio float | float vs "
           "shuffle | row model buys |\n|---|---|---|---|---|---|---|---|---|---|\n");
    uint64_t raw = 0, n = 0, st[POINTS_PASSES] = {0};
    for (uint32_t i = 0; i < r->nrows; i++) {
        const point_row *p = &r->rows[i];
        if (!p->raw)
            continue;
        printf("| %s | %s | %llu | %.2f | %.4f | %.4f | %+.2f %% | %.4f | %+.2f %% | %+.2f %% |\n", p->point,
               tt_dtype_name(p->dtype), (unsigned long long)p->records, mib(p->raw), ratio(p->raw, p->stored[0]),
               ratio(p->raw, p->stored[1]), change_pct(p->stored[0], p->stored[1]), ratio(p->raw, p->stored[2]),
               change_pct(p->stored[0], p->stored[2]), change_pct(p->stored[3], p->stored[1]));
        raw += p->raw, n += p->records;
        for (int k = 0; k < POINTS_PASSES; k++)
            st[k] += p->stored[k];
    }
    printf("| all | | %llu | %.2f | %.4f | %.4f | %+.2f %% | %.4f | %+.2f %% | %+.2f %% |\n", (unsigned long long)n,
           mib(raw), ratio(raw, st[0]), ratio(raw, st[1]), change_pct(st[0], st[1]), ratio(raw, st[2]),
           change_pct(st[0], st[2]), change_pct(st[3], st[1]));
    printf("\nwrite CPU: shuffle %.3f s, auto %.3f s, float %.3f s (auto as rank 1: %.3f s)\n", r->write_cpu_s[0],
           r->write_cpu_s[1], r->write_cpu_s[2], r->write_cpu_s[3]);
}

static void print_open_json(const bench_opts *o, const open_result *r, const char *trace)
{
    json_out j = {0};
    common_json(&j, o, "open", trace);
    j_u64(&j, "records", r->records);
    j_u64(&j, "record_bytes", r->record_bytes);
    j_u64(&j, "file_bytes", r->file_bytes);
    j_num(&j, "write_s", r->write_s, 3);
    j_num(&j, "puts_per_s", r->write_s > 0 ? (double)r->records / r->write_s : NAN, 0);
    j_u64(&j, "read_index", r->target);
    j_u64(&j, "runs", o->runs);
    j_num(&j, "open_read_ms", r->warm_ms[1], 3);
    j_num(&j, "open_read_ms_min", r->warm_ms[0], 3);
    j_num(&j, "open_read_ms_max", r->warm_ms[2], 3);
    j_num(&j, "open_ms", r->warm_open_ms, 3);
    j_num(&j, "read_ms", r->warm_read_ms, 3);
    j_num(&j, "open_read_ms_cold", r->cold_ms[1], 3);
    j_num(&j, "open_read_ms_cold_min", r->cold_ms[0], 3);
    j_num(&j, "open_read_ms_cold_max", r->cold_ms[2], 3);
    j_num(&j, "open_ms_cold", r->cold_open_ms, 3);
    j_num(&j, "read_ms_cold", r->cold_read_ms, 3);
    j_num(&j, "cold_resident_fraction", r->cold_resident, 4);
    j_bool(&j, "verified", r->verified);
    j_num(&j, "peak_rss_mb", mib(r->peak_rss), 1);
    j_num(&j, "writer_rss_mb", mib(r->write_peak_rss - r->write_baseline_rss), 1);
    j_num(&j, "reader_rss_mb", mib(r->read_peak_rss - r->read_baseline_rss), 1);
    j_num(&j, "inflight_mb", mib(eff_inflight(o)), 1);
    j_bool(&j, "peak_is_phase", r->hwm_reset);
    j_num(&j, "loadavg_before", r->loadavg[0], 2);
    j_num(&j, "loadavg_after", r->loadavg[1], 2);
    j_end(&j);
}

static void print_open_text(const bench_opts *o, const open_result *r, const char *trace)
{
    char b1[32];
    printf("write:  %llu records of %llu bytes (%s [1 x %llu]) in %.3f s = %.0f puts/s; file %s\n",
           (unsigned long long)r->records, (unsigned long long)r->record_bytes, tt_dtype_name(o->dtype),
           (unsigned long long)o->small, r->write_s, r->write_s > 0 ? (double)r->records / r->write_s : 0,
           cli_human_bytes(r->file_bytes, b1, sizeof b1));
    printf("warm:   open + read record %llu: median %.3f ms (min %.3f, max %.3f; open %.3f + read %.3f), %u runs\n",
           (unsigned long long)r->target, r->warm_ms[1], r->warm_ms[0], r->warm_ms[2], r->warm_open_ms,
           r->warm_read_ms, o->runs);
    printf("cold:   open + read record %llu: median %.3f ms (min %.3f, max %.3f; open %.3f + read %.3f), "
           "after POSIX_FADV_DONTNEED (%.1f%% of the file still cached)\n",
           (unsigned long long)r->target, r->cold_ms[1], r->cold_ms[0], r->cold_ms[2], r->cold_open_ms,
           r->cold_read_ms, r->cold_resident * 100);
    char b2[32], b3[32], b4[32];
    printf("memory: peak RSS %s; the writer added %s (in-flight limit %s), the open + read runs %s\n",
           cli_human_bytes(r->peak_rss, b1, sizeof b1),
           cli_human_bytes(r->write_peak_rss - r->write_baseline_rss, b2, sizeof b2),
           cli_human_bytes(eff_inflight(o), b3, sizeof b3),
           cli_human_bytes(r->read_peak_rss - r->read_baseline_rss, b4, sizeof b4));
    printf("check:  tensor %s; 1-minute load average %.2f before, %.2f after\n",
           r->verified ? "verified" : "NOT VERIFIED", r->loadavg[0], r->loadavg[1]);
    if (trace)
        printf("trace:  %s\n", trace);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    bench_opts o;
    parse_args(argc, argv, &o);
    /* the files asked for are written under temporary names and put in place only when the run succeeds */
    unsigned force = o.force ? CLI_OUT_FORCE : 0;
    cli_out *out = o.out ? cli_out_declare(o.out, "--out", CLI_OUT_TRACE | force) : NULL;
    cli_out *raw = o.save_raw ? cli_out_declare(o.save_raw, "--save-raw", force) : NULL;
    const char *raw_path = o.save_raw;
    if (raw && cli_out_open(raw)) {
        cli_out_close(raw); /* save_raw() writes it by name */
        o.save_raw = cli_out_path(raw);
    }
    char tmp[4096] = "";
    if (out)
        cli_out_open(out);
    const char *trace = out ? cli_out_path(out) : NULL;
    if (!trace) {
        if (bench_temp_path(tmp, sizeof tmp, ".tt") != 0)
            cli_die(CLI_EXIT_OUTPUT, "cannot create a temporary file: %s", strerror(errno));
        trace = tmp;
    }
    int rc;
    const char *shown = o.out ? o.out : o.keep ? trace : NULL;
    if (o.points) {
        points_result *r = malloc(sizeof *r);
        if (!r)
            cli_die(CLI_EXIT_INTERNAL, "out of memory");
        rc = bench_points(&o, trace, r);
        if (rc == CLI_EXIT_OK) {
            if (o.json)
                print_points_json(&o, r);
            else
                print_points_text(&o, r);
        }
        free(r);
    } else if (o.open_bench) {
        open_result r;
        rc = bench_open(&o, trace, &r);
        if (rc == CLI_EXIT_OK) {
            if (o.json)
                print_open_json(&o, &r, shown);
            else
                print_open_text(&o, &r, shown);
        }
    } else {
        bench_result r;
        rc = bench_throughput(&o, trace, &r);
        o.save_raw = raw_path;
        if (rc == CLI_EXIT_OK) {
            if (o.json)
                print_throughput_json(&o, &r, shown);
            else
                print_throughput_text(&o, &r, shown);
        }
    }
    if (tmp[0] && !o.keep)
        unlink(tmp);
    if (rc != CLI_EXIT_OK) {
        cli_out_failed(); /* the temporary --out and --save-raw files go */
        return cli_finish(rc);
    }
    if (out)
        cli_out_commit(out);
    if (raw)
        cli_out_commit(raw);
    return cli_finish(rc);
}
