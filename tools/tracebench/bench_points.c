/*
 * bench_points.c — `tracebench --points FILE`: every stored tensor of a real trace written again through the
 * writer with each payload filter (shuffle: the format 1.0 path; auto; float; auto without the row width, to see
 * what FLOAT's row model buys), and the stored bytes compared per
 * capture point and dtype. The same chunk size, threads and level as the command line say; the write CPU time
 * of each pass is measured (getrusage), so the table shows what each filter costs and buys on real activations.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_sys.h"
#include "cli.h"
#include "tt/dtype.h"
#include "tt/reader.h"

static const tt_payload_filter pass_filter[POINTS_PASSES] = {TT_PAYLOAD_FILTER_SHUFFLE, TT_PAYLOAD_FILTER_AUTO,
                                                             TT_PAYLOAD_FILTER_FLOAT, TT_PAYLOAD_FILTER_AUTO};

/* The row of (point, dtype), added when new. */
static point_row *row_of(points_result *r, const char *point, tt_dtype dt)
{
    for (uint32_t i = 0; i < r->nrows; i++)
        if (r->rows[i].dtype == dt && strcmp(r->rows[i].point, point) == 0)
            return &r->rows[i];
    if (r->nrows == POINTS_MAX_ROWS)
        return NULL;
    point_row *p = &r->rows[r->nrows++];
    memset(p, 0, sizeof *p);
    snprintf(p->point, sizeof p->point, "%s", point);
    p->dtype = dt;
    return p;
}

/* Writes every stored tensor of in to path with filter f (flat: as rank-1 tensors); the write CPU seconds go to
 * *cpu. */
static int rewrite(const bench_opts *o, tt_reader *in, const char *path, tt_payload_filter f, int flat, double *cpu)
{
    tt_writer_options wo;
    bench_writer_options(o, &wo);
    wo.payload_filter = f;
    wo.overwrite = 1;
    uint8_t *buf = NULL;
    size_t cap = 0;
    double c0 = bench_cpu_seconds();
    tt_writer *w = NULL;
    int rc = tt_writer_open(&w, path, &wo);
    for (uint64_t i = 0; rc == TT_OK && i < tt_reader_count(in); i++) {
        tt_record rec;
        if ((rc = tt_reader_record(in, i, &rec)) != TT_OK)
            break;
        if (!(rec.flags & TT_REC_HAS_PAYLOAD) || rec.nbytes == 0)
            continue;
        if (rec.nbytes > cap) {
            free(buf);
            cap = (size_t)rec.nbytes;
            if (!(buf = malloc(cap))) {
                rc = TT_E_NOMEM;
                break;
            }
        }
        double c1 = bench_cpu_seconds(); /* reading the input is not the writer's cost */
        rc = tt_reader_read(in, i, buf, (size_t)rec.nbytes);
        c0 += bench_cpu_seconds() - c1;
        uint64_t elems = rec.nbytes / tt_dtype_size(rec.dtype);
        if (rc == TT_OK && tt_put(w, &rec.key, rec.dtype, flat ? 1 : rec.ndim, flat ? &elems : rec.shape, buf) < 0)
            rc = TT_E_IO;
    }
    if (rc != TT_OK)
        cli_error("--points: %s", w ? tt_writer_errmsg(w) : tt_reader_errmsg(in));
    int crc = w ? tt_writer_close(w) : TT_OK;
    *cpu = bench_cpu_seconds() - c0;
    tt_writer_free(w);
    free(buf);
    return rc == TT_OK && crc == TT_OK ? CLI_EXIT_OK : CLI_EXIT_OUTPUT;
}

/* Adds the stored bytes of every record of path (pass k) to its row. */
static int tally(const char *path, points_result *r, int k)
{
    tt_reader *rd = NULL;
    int rc = tt_reader_open(&rd, path, NULL);
    for (uint64_t i = 0; rc == TT_OK && i < tt_reader_count(rd); i++) {
        tt_record rec;
        if ((rc = tt_reader_record(rd, i, &rec)) != TT_OK)
            break;
        point_row *p = row_of(r, rec.key.point ? rec.key.point : "", rec.dtype);
        if (!p) {
            cli_error("--points: more than %d (point, dtype) pairs", POINTS_MAX_ROWS);
            rc = TT_E_LIMIT;
            break;
        }
        p->stored[k] += rec.stored_bytes;
        if (k == 0) {
            p->records++;
            p->raw += rec.nbytes;
        }
    }
    if (rc != TT_OK)
        cli_error("--points: reading back %s: %s", path, rd ? tt_reader_errmsg(rd) : tt_strerror(rc));
    tt_reader_close(rd);
    return rc == TT_OK ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
}

int bench_points(const bench_opts *o, const char *tmp_path, points_result *r)
{
    memset(r, 0, sizeof *r);
    tt_reader *in = NULL;
    int rc = tt_reader_open(&in, o->points, NULL);
    if (rc != TT_OK) {
        cli_error("--points: cannot open %s: %s", o->points, in ? tt_reader_errmsg(in) : tt_strerror(rc));
        tt_reader_close(in);
        return CLI_EXIT_USAGE;
    }
    int exit = CLI_EXIT_OK;
    for (int k = 0; k < POINTS_PASSES && exit == CLI_EXIT_OK; k++) {
        exit = rewrite(o, in, tmp_path, pass_filter[k], k == 3, &r->write_cpu_s[k]);
        if (exit == CLI_EXIT_OK)
            exit = tally(tmp_path, r, k);
    }
    tt_reader_close(in);
    unlink(tmp_path);
    return exit;
}
