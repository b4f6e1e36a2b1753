/*
 * bench_throughput.c — tracebench's main benchmark: put --size bytes of generated activations through a writer
 * (timed: open, every tt_put, close), read every tensor back with a fresh reader (timed: open and every
 * tt_reader_read), check every byte against the generator, and measure the writer's peak memory and, if asked,
 * the zstd CLI on the very same bytes.
 *
 * What is and is not timed: generating the data, saving the raw bytes and checking what was read are outside the
 * clocks. The per-put patch (bench_data.h) is inside the write clock; it touches 8 bytes. Every timed phase starts
 * after a sync(), so none pays for the writeback of dirty pages an earlier phase left; the write clock still
 * includes whatever writeback the kernel forces during the phase itself (it throttles writers past dirty_ratio).
 *
 * Memory: the tool holds only the pool of generated tensors and one read buffer. VmHWM is reset just before the
 * writer opens, with the pool already resident, so peak - baseline is what the writer added during the write
 * phase: the bound on bytes in flight, worker scratch buffers, zstd contexts and thread stacks.
 */
#define _XOPEN_SOURCE 700 /* sync() */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_data.h"
#include "bench_sys.h"
#include "cli.h"
#include "tt/dtype.h"
#include "tt/reader.h"
#include "tt/writer.h"

static const char *const point_names[] = {"attn_norm", "attn_out", "mlp_out", "resid_out"};
#define NPOINTS 4
#define NLAYERS 32

void bench_key(uint64_t k, uint64_t rows, tt_key *key)
{
    tt_key z = TT_KEY_INIT;
    *key = z;
    key->prompt_id = "bench";
    key->phase = "prefill";
    key->point = point_names[k % NPOINTS];
    key->layer = (int32_t)((k / NPOINTS) % NLAYERS);
    key->step = (int32_t)(k / (NPOINTS * NLAYERS));
    key->pos_id = 0;
    key->rows = (int32_t)rows;
}

void bench_writer_options(const bench_opts *o, tt_writer_options *wo)
{
    tt_writer_options d = TT_WRITER_OPTIONS_INIT;
    *wo = d;
    wo->mode = o->mode;
    wo->threads = o->threads;
    wo->inflight_bytes = o->inflight;
    wo->zstd_level = o->level;
    wo->zstd_level_set = 1;
    wo->shuffle = o->shuffle;
    wo->payload_filter = o->filter;
    wo->chunk_bytes = o->chunk;
    wo->ignore_env = 1; /* the command line says what is measured, not TT_TRACE_* left in the environment */
    wo->overwrite = 1;
}

/* Writes the bytes of every put, in put order, to path (not timed). */
static int save_raw(const bench_pool *p, uint64_t tensors, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        cli_error("%s: cannot create: %s", path, strerror(errno));
        return CLI_EXIT_OUTPUT;
    }
    for (uint64_t k = 0; k < tensors; k++) {
        bench_patch(p, k);
        const uint8_t *b = bench_tensor(p, k);
        size_t left = p->tensor_bytes;
        while (left > 0) {
            ssize_t n = write(fd, b, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                int e = n < 0 ? errno : ENOSPC;
                bench_patch(p, k);
                close(fd);
                cli_error("%s: write failed: %s", path, strerror(e));
                return CLI_EXIT_OUTPUT;
            }
            b += n;
            left -= (size_t)n;
        }
        bench_patch(p, k);
    }
    if (close(fd) != 0) {
        cli_error("%s: write failed: %s", path, strerror(errno));
        return CLI_EXIT_OUTPUT;
    }
    return CLI_EXIT_OK;
}

static int write_phase(const bench_opts *o, const bench_pool *p, const char *path, bench_result *r, uint32_t round,
                       int base)
{
    tt_writer_options wo;
    bench_writer_options(o, &wo);
    if (base)
        wo.payload_filter = TT_PAYLOAD_FILTER_SHUFFLE;
    uint64_t shape[2] = {p->tokens, p->hidden};
    r->hwm_reset = bench_reset_hwm();
    uint64_t rss0 = bench_rss_bytes();
    double m0 = bench_machine_busy_s(), c0 = bench_cpu_seconds(), t0 = bench_now();
    tt_writer *w = NULL;
    int rc = tt_writer_open(&w, path, &wo);
    if (rc != TT_OK) {
        cli_error("cannot open the writer: %s", w ? tt_writer_errmsg(w) : tt_strerror(rc));
        tt_writer_free(w);
        return rc == TT_E_NOMEM ? CLI_EXIT_INTERNAL : rc == TT_E_IO ? CLI_EXIT_OUTPUT : CLI_EXIT_USAGE;
    }
    for (uint64_t k = 0; k < r->tensors && rc >= 0; k++) {
        tt_key key;
        bench_key(k, p->tokens, &key);
        bench_patch(p, k);
        rc = tt_put(w, &key, p->dtype, 2, shape, bench_tensor(p, k));
        bench_patch(p, k);
    }
    int crc = tt_writer_close(w);
    double wall = bench_now() - t0, cpu = bench_cpu_seconds() - c0;
    if (base) {
        r->base_write_runs[round] = wall;
        r->base_write_cpu_runs[round] = cpu;
    } else {
        r->write_runs[round] = wall;
        r->write_cpu_runs[round] = cpu;
        r->write_other_runs[round] = bench_machine_busy_s() - m0 - cpu;
    }
    uint64_t peak = bench_hwm_bytes();
    if (!base && (round == 0 || peak - rss0 > r->peak_rss - r->baseline_rss)) {
        r->peak_rss = peak;
        r->baseline_rss = rss0;
    }
    if (!base)
        tt_writer_get_counters(w, &r->counters);
    if (rc < 0 || crc != TT_OK) {
        cli_error("writing %s failed: %s", path, tt_writer_errmsg(w));
        tt_writer_free(w);
        return CLI_EXIT_OUTPUT;
    }
    tt_writer_free(w);
    return CLI_EXIT_OK;
}

/* Is record i what put i stored? Key first, then the bytes (full mode) or the content hash. */
static int check_record(const bench_pool *p, uint64_t i, const tt_record *rec, const uint8_t *bytes)
{
    tt_key want;
    bench_key(i, p->tokens, &want);
    if (strcmp(rec->key.point, want.point) != 0 || rec->key.layer != want.layer || rec->key.step != want.step ||
        rec->dtype != p->dtype || rec->nbytes != p->tensor_bytes)
        return 0;
    bench_patch(p, i);
    const uint8_t *t = bench_tensor(p, i);
    int ok = bytes ? memcmp(bytes, t, p->tensor_bytes) == 0
                   : (rec->flags & TT_REC_HAS_HASH) && rec->hash == tt_hash(t, p->tensor_bytes);
    bench_patch(p, i);
    return ok;
}

static int read_phase(const bench_opts *o, const bench_pool *p, const char *path, bench_result *r, uint32_t round,
                      int base)
{
    uint8_t *buf = malloc(p->tensor_bytes ? p->tensor_bytes : 1);
    if (!buf) {
        cli_error("out of memory for a %zu-byte read buffer", p->tensor_bytes);
        return CLI_EXIT_INTERNAL;
    }
    int full = o->mode == TT_MODE_FULL;
    double t0 = bench_now(), c0 = bench_cpu_seconds(), timed = 0, cpu = 0;
    tt_reader *rd = NULL;
    int rc = tt_reader_open(&rd, path, NULL);
    timed += bench_now() - t0;
    cpu += bench_cpu_seconds() - c0;
    if (rc != TT_OK) {
        cli_error("%s: cannot open the trace: %s", path, rd ? tt_reader_errmsg(rd) : tt_strerror(rc));
        tt_reader_close(rd);
        free(buf);
        return CLI_EXIT_FINDING;
    }
    uint64_t n = tt_reader_count(rd);
    r->read_records = n;
    if (n != r->tensors)
        r->mismatches++;
    for (uint64_t i = 0; i < n && rc == TT_OK; i++) {
        tt_record rec;
        double t1 = bench_now(), c1 = bench_cpu_seconds();
        rc = tt_reader_record(rd, i, &rec);
        if (rc == TT_OK && full)
            rc = tt_reader_read(rd, i, buf, p->tensor_bytes);
        timed += bench_now() - t1;
        cpu += bench_cpu_seconds() - c1;
        if (rc == TT_OK && !check_record(p, i, &rec, full ? buf : NULL))
            r->mismatches++;
    }
    if (rc != TT_OK)
        cli_error("%s: reading back failed: %s", path, tt_reader_errmsg(rd));
    tt_reader_close(rd);
    free(buf);
    if (base) {
        r->base_read_runs[round] = full ? timed : -1;
        r->base_read_cpu_runs[round] = full ? cpu : -1;
    } else {
        r->read_runs[round] = full ? timed : -1;
        r->read_cpu_runs[round] = full ? cpu : -1;
    }
    r->verified = rc == TT_OK && r->mismatches == 0;
    if (rc == TT_OK && r->mismatches)
        cli_error("%s: %llu of %llu tensors read back differ from what was put", path,
                  (unsigned long long)r->mismatches, (unsigned long long)r->tensors);
    return r->verified ? CLI_EXIT_OK : CLI_EXIT_FINDING;
}

/* zstd's level flag: -N, or --fast=N for the negative levels; level 0 means zstd's default, 3, in both. */
static void zstd_level_arg(int level, char *buf, size_t len)
{
    if (level == 0)
        snprintf(buf, len, "-3");
    else if (level < 0)
        snprintf(buf, len, "--fast=%d", -level);
    else
        snprintf(buf, len, "-%d", level);
}

/* The zstd CLI on the raw bytes: compress (timed, to a file beside them), then decompress to /dev/null. */
static int compare_zstd(const bench_opts *o, const char *raw, bench_result *r, uint32_t round)
{
    char level[32], threads[32], zpath[4200];
    zstd_level_arg(o->level, level, sizeof level);
    snprintf(threads, sizeof threads, "-T%u", o->threads);
    snprintf(zpath, sizeof zpath, "%s.zst", raw);
    snprintf(r->zstd_cmd, sizeof r->zstd_cmd, "zstd %s %s", level, threads);
    char *cargv[] = {"zstd", level, threads, "-q", "-f", "-o", zpath, (char *)raw, NULL};
    bench_run run;
    double m0 = bench_machine_busy_s();
    if (bench_run_cmd(cargv, NULL, &run) != 0) {
        cli_error("--compare-zstd: %s", run.error);
        unlink(zpath);
        return CLI_EXIT_USAGE;
    }
    r->zstd_runs[round] = run.wall_s;
    r->zstd_cpu_runs[round] = run.cpu_s;
    r->zstd_other_runs[round] = bench_machine_busy_s() - m0 - run.cpu_s;
    int64_t zs = bench_file_size(zpath);
    r->zstd_bytes = zs > 0 ? (uint64_t)zs : 0;
    char *dargv[] = {"zstd", "-d", "-q", "-c", zpath, NULL};
    if (bench_run_cmd(dargv, NULL, &run) != 0) {
        cli_error("--compare-zstd: decompressing %s: %s", zpath, run.error);
        unlink(zpath);
        return CLI_EXIT_USAGE;
    }
    r->zstd_dec_s = run.wall_s;
    r->zstd_done = 1;
    unlink(zpath);
    return CLI_EXIT_OK;
}

int bench_throughput(const bench_opts *o, const char *trace_path, bench_result *r)
{
    memset(r, 0, sizeof *r);
    r->loadavg[0] = bench_loadavg();
    r->read_s = -1;
    r->cold_resident = -1;
    bench_pool p;
    double t0 = bench_now();
    if (bench_pool_new(&p, o->dtype, o->tokens, o->hidden, o->pool, o->outliers, o->seed) != 0) {
        bench_pool_free(&p);
        cli_error("out of memory generating %u tensors of %llu x %llu", o->pool, (unsigned long long)o->tokens,
                  (unsigned long long)o->hidden);
        return CLI_EXIT_INTERNAL;
    }
    r->gen_s = bench_now() - t0;
    r->tensor_bytes = p.tensor_bytes;
    r->tensors = o->size / p.tensor_bytes ? o->size / p.tensor_bytes : 1;
    r->total_bytes = r->tensors * p.tensor_bytes;
    r->pool_bytes = (uint64_t)p.count * p.tensor_bytes;

    int rc = CLI_EXIT_OK;
    char raw_tmp[4096] = "";
    const char *raw = o->save_raw;
    if (!raw && o->compare_zstd) {
        if (bench_temp_path(raw_tmp, sizeof raw_tmp, ".raw") != 0) {
            cli_error("cannot create a temporary file: %s", strerror(errno));
            bench_pool_free(&p);
            return CLI_EXIT_OUTPUT;
        }
        raw = raw_tmp;
    }
    if (raw)
        rc = save_raw(&p, r->tensors, raw);
    /* rounds interleave our write and read with the zstd CLI, so both see the same machine load */
    for (uint32_t i = 0; i < o->repeat && rc == CLI_EXIT_OK; i++) {
        /* before each timed phase the page cache's dirty pages are written back (untimed), so a phase does not
         * pay for the writeback of the one before (the disk here is slower than the CPU on poorly
         * compressible data) */
        sync();
        rc = write_phase(o, &p, trace_path, r, i, 0);
        if (rc == CLI_EXIT_OK) {
            int64_t fs = bench_file_size(trace_path);
            r->file_bytes = fs > 0 ? (uint64_t)fs : 0;
            sync();
            if (o->cold_read)
                r->cold_resident = bench_evict(trace_path);
            rc = read_phase(o, &p, trace_path, r, i, 0);
        }
        if (rc == CLI_EXIT_OK && o->compare_shuffle) {
            sync();
            rc = write_phase(o, &p, trace_path, r, i, 1);
            if (rc == CLI_EXIT_OK) {
                int64_t fs = bench_file_size(trace_path);
                r->base_file_bytes = fs > 0 ? (uint64_t)fs : 0;
                sync();
                if (o->cold_read)
                    bench_evict(trace_path);
                rc = read_phase(o, &p, trace_path, r, i, 1);
                r->base_done = rc == CLI_EXIT_OK;
            }
        }
        if (rc == CLI_EXIT_OK && o->compare_zstd) {
            sync();
            if (o->cold_read)
                bench_evict(raw);
            rc = compare_zstd(o, raw, r, i);
        }
        r->rounds = i + 1;
    }
    if (rc == CLI_EXIT_OK) {
        r->write_s = bench_median(r->write_runs, r->rounds);
        r->write_cpu_s = bench_median(r->write_cpu_runs, r->rounds);
        r->write_other_s = bench_median(r->write_other_runs, r->rounds);
        r->read_s = bench_median(r->read_runs, r->rounds);
        r->read_cpu_s = bench_median(r->read_cpu_runs, r->rounds);
        if (r->base_done) {
            r->base_write_s = bench_median(r->base_write_runs, r->rounds);
            r->base_write_cpu_s = bench_median(r->base_write_cpu_runs, r->rounds);
            r->base_read_s = bench_median(r->base_read_runs, r->rounds);
            r->base_read_cpu_s = bench_median(r->base_read_cpu_runs, r->rounds);
        }
        if (r->zstd_done) {
            r->zstd_s = bench_median(r->zstd_runs, r->rounds);
            r->zstd_cpu_s = bench_median(r->zstd_cpu_runs, r->rounds);
            r->zstd_other_s = bench_median(r->zstd_other_runs, r->rounds);
        }
    }
    r->loadavg[1] = bench_loadavg();
    if (raw_tmp[0])
        unlink(raw_tmp);
    bench_pool_free(&p);
    return rc;
}
