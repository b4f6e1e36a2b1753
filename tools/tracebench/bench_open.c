/*
 * bench_open.c — tracebench --open-bench: how long it takes to open a trace of many records and read one tensor
 * from it. Writes --records small [1, --small] tensors (each put a different record key, as an engine tracing
 * every layer and step would), then, --runs times each, opens the trace with a fresh reader and reads the record
 * in the middle: warm (file in the page cache, after one untimed open) and fadvise-cold (the file's pages written
 * back and dropped with POSIX_FADV_DONTNEED before each run, which needs no root; what stays cached is reported).
 * The times are open + read; close is not counted. The tensor read is checked against the generator.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_data.h"
#include "bench_sys.h"
#include "cli.h"
#include "tt/reader.h"
#include "tt/writer.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(const double *v, uint32_t n)
{
    double *c = n ? malloc(n * sizeof *c) : NULL;
    if (!c)
        return n ? v[0] : 0;
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

static int write_records(const bench_opts *o, const bench_pool *p, const char *path, open_result *r)
{
    tt_writer_options wo;
    bench_writer_options(o, &wo);
    uint64_t shape[2] = {1, p->hidden};
    r->hwm_reset = bench_reset_hwm();
    r->write_baseline_rss = bench_rss_bytes();
    double t0 = bench_now();
    tt_writer *w = NULL;
    int rc = tt_writer_open(&w, path, &wo);
    if (rc != TT_OK) {
        cli_error("cannot open the writer: %s", w ? tt_writer_errmsg(w) : tt_strerror(rc));
        tt_writer_free(w);
        return rc == TT_E_IO ? CLI_EXIT_OUTPUT : CLI_EXIT_USAGE;
    }
    for (uint64_t k = 0; k < r->records && rc >= 0; k++) {
        tt_key key;
        bench_key(k, 1, &key);
        key.token_id = (int32_t)(k % 32000);
        key.pos_id = key.logical_tok_idx = key.step;
        bench_patch(p, k);
        rc = tt_put(w, &key, p->dtype, 2, shape, bench_tensor(p, k));
        bench_patch(p, k);
    }
    int crc = tt_writer_close(w);
    r->write_s = bench_now() - t0;
    r->write_peak_rss = bench_hwm_bytes();
    if (rc < 0 || crc != TT_OK) {
        cli_error("writing %s failed: %s", path, tt_writer_errmsg(w));
        tt_writer_free(w);
        return CLI_EXIT_OUTPUT;
    }
    tt_writer_free(w);
    return CLI_EXIT_OK;
}

/* One fresh open + read of the target record. */
static int open_read_once(const char *path, uint64_t target, uint8_t *buf, size_t len, double *open_ms,
                          double *read_ms)
{
    double t0 = bench_now();
    tt_reader *rd = NULL;
    int rc = tt_reader_open(&rd, path, NULL);
    double t1 = bench_now();
    if (rc == TT_OK)
        rc = tt_reader_read(rd, target, buf, len);
    double t2 = bench_now();
    if (rc != TT_OK)
        cli_error("%s: %s", path, rd ? tt_reader_errmsg(rd) : tt_strerror(rc));
    tt_reader_close(rd);
    *open_ms = (t1 - t0) * 1e3;
    *read_ms = (t2 - t1) * 1e3;
    return rc;
}

/* runs timed open+read passes; cold: evict the file before each. */
static int time_runs(const bench_opts *o, const char *path, uint64_t target, uint8_t *buf, size_t len, int cold,
                     double total[3], double *open_med, double *read_med, double *resident)
{
    uint32_t n = o->runs;
    double *t = calloc(3 * (size_t)n, sizeof *t);
    if (!t) {
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    double *to = t + n, *tr = t + 2 * (size_t)n;
    int rc = TT_OK;
    for (uint32_t i = 0; i < n && rc == TT_OK; i++) {
        if (cold) {
            double f = bench_evict(path); /* keep the worst run; -1 once any eviction failed */
            if (f < 0 || *resident < 0)
                *resident = -1;
            else if (f > *resident)
                *resident = f;
        }
        rc = open_read_once(path, target, buf, len, &to[i], &tr[i]);
        t[i] = to[i] + tr[i];
    }
    if (rc == TT_OK) {
        *open_med = bench_median(to, n);
        *read_med = bench_median(tr, n);
        total[1] = bench_median(t, n);
        total[0] = total[2] = t[0];
        for (uint32_t i = 1; i < n; i++) {
            total[0] = t[i] < total[0] ? t[i] : total[0];
            total[2] = t[i] > total[2] ? t[i] : total[2];
        }
    }
    free(t);
    return rc == TT_OK ? CLI_EXIT_OK : CLI_EXIT_FINDING;
}

int bench_open(const bench_opts *o, const char *trace_path, open_result *r)
{
    memset(r, 0, sizeof *r);
    r->loadavg[0] = bench_loadavg();
    bench_pool p;
    if (bench_pool_new(&p, o->dtype, 1, o->small, o->pool, o->outliers, o->seed) != 0) {
        bench_pool_free(&p);
        cli_error("out of memory generating small tensors");
        return CLI_EXIT_INTERNAL;
    }
    r->records = o->records;
    r->record_bytes = p.tensor_bytes;
    r->target = o->records / 2;
    r->cold_resident = 0;
    uint8_t *buf = malloc(p.tensor_bytes ? p.tensor_bytes : 1);
    int rc = buf ? write_records(o, &p, trace_path, r) : CLI_EXIT_INTERNAL;
    if (rc == CLI_EXIT_OK) {
        int64_t fs = bench_file_size(trace_path);
        r->file_bytes = fs > 0 ? (uint64_t)fs : 0;
        double om, rm;
        /* one untimed pass brings the file into the page cache and the library's code into the CPU's */
        rc = open_read_once(trace_path, r->target, buf, p.tensor_bytes, &om, &rm) == TT_OK ? CLI_EXIT_OK
                                                                                          : CLI_EXIT_FINDING;
    }
    if (rc == CLI_EXIT_OK) {
        r->hwm_reset &= bench_reset_hwm();
        r->read_baseline_rss = bench_rss_bytes();
    }
    if (rc == CLI_EXIT_OK)
        rc = time_runs(o, trace_path, r->target, buf, p.tensor_bytes, 0, r->warm_ms, &r->warm_open_ms,
                       &r->warm_read_ms, &r->cold_resident);
    if (rc == CLI_EXIT_OK)
        rc = time_runs(o, trace_path, r->target, buf, p.tensor_bytes, 1, r->cold_ms, &r->cold_open_ms,
                       &r->cold_read_ms, &r->cold_resident);
    if (rc == CLI_EXIT_OK) {
        bench_patch(&p, r->target);
        r->verified = memcmp(buf, bench_tensor(&p, r->target), p.tensor_bytes) == 0;
        bench_patch(&p, r->target);
        if (!r->verified) {
            cli_error("%s: record %llu read back differs from what was put", trace_path,
                      (unsigned long long)r->target);
            rc = CLI_EXIT_FINDING;
        }
    }
    r->read_peak_rss = bench_hwm_bytes();
    r->peak_rss = r->read_peak_rss > r->write_peak_rss ? r->read_peak_rss : r->write_peak_rss;
    r->loadavg[1] = bench_loadavg();
    free(buf);
    bench_pool_free(&p);
    return rc;
}
