/*
 * diff_neargen.c — writes two traces (OUTDIR/near_left.tt, OUTDIR/near_right.tt) of large tensor pairs for the
 * numpy cross-check of the cosine and the norms (check_cosine.py): nearly identical f32 and bf16 pairs with
 * 1 - cosine around 1e-9, one with a NaN (the norms are then summed rather than taken from the statistics), one
 * pair far apart and one scaled by 1000, with the raw little-endian bytes of every tensor (OUTDIR/<side>_<point>.bin)
 * and a manifest (OUTDIR/manifest.tsv: point dtype rows cols).
 * Usage: diff_neargen OUTDIR
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tt/dtype.h"
#include "tt/writer.h"

#include "diff_gen.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static const char *g_dir;

static tt_writer *open_w(const char *name)
{
    tt_writer *w = dg_open_writer(g_dir, name, "diff_neargen");
    return w;
}

static void save(const char *side, const char *point, const void *data, size_t n)
{
    dg_save(g_dir, side, point, data, n, "diff_neargen");
}

static tt_writer *g_wl, *g_wr;
static FILE *g_man;

static void pair(const char *point, tt_dtype dt, uint64_t rows, uint64_t cols, const void *l, const void *r)
{
    const uint64_t shape[2] = {rows, cols};
    tt_key k = TT_KEY_INIT;
    k.prompt_id = "near";
    k.phase = "prefill";
    k.point = point;
    k.layer = 0;
    k.pos_id = 0;
    k.rows = (int32_t)rows;
    if (tt_put(g_wl, &k, dt, 2, shape, l) != TT_OK || tt_put(g_wr, &k, dt, 2, shape, r) != TT_OK) {
        fprintf(stderr, "diff_neargen: put %s failed\n", point);
        exit(1);
    }
    size_t nb = (size_t)(rows * cols) * tt_dtype_size(dt);
    save("left", point, l, nb);
    save("right", point, r, nb);
    fprintf(g_man, "%s\t%s\t%llu\t%llu\n", point, tt_dtype_name(dt), (unsigned long long)rows,
            (unsigned long long)cols);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: diff_neargen OUTDIR\n");
        return 2;
    }
    g_dir = argv[1];
    mkdir(g_dir, 0777);
    char mp[1024];
    snprintf(mp, sizeof mp, "%s/manifest.tsv", g_dir);
    g_man = fopen(mp, "w");
    if (!g_man)
        return 1;
    g_wl = open_w("near_left.tt");
    g_wr = open_w("near_right.tt");
    const size_t rows = 256, cols = 4096, n = rows * cols;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    uint16_t *bx = malloc(n * 2), *by = malloc(n * 2);
    if (!x || !y || !bx || !by)
        return 1;
    /* f32: relative noise 4.5e-5 on every element, 1 - cosine about 1e-9 */
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)dg_nrand(&rng);
        y[i] = (float)(x[i] * (1 + 4.5e-5 * dg_nrand(&rng)));
    }
    pair("near_f32", TT_F32, rows, cols, x, y);
    /* bf16: one ulp on one element in 9973 */
    tt_from_f32(TT_BF16, x, n, bx);
    memcpy(by, bx, n * 2);
    for (size_t i = 0; i < n; i += 9973)
        by[i]++;
    pair("near_bf16", TT_BF16, rows, cols, bx, by);
    /* a NaN on both sides: the statistics count it, the norms are summed */
    const size_t q = n / 4;
    x[777] = y[777] = NAN;
    pair("near_nan_f32", TT_F32, q / cols, cols, x, y);
    /* far apart (cosine about 0.6) and scaled (cosine 1, norms 1000 apart) */
    for (size_t i = 0; i < q; i++) {
        y[i] = (float)(0.6 * x[i] + 0.8 * dg_nrand(&rng));
        if (i == 777)
            x[i] = (float)dg_nrand(&rng), y[i] = (float)dg_nrand(&rng);
    }
    tt_from_f32(TT_BF16, x, q, bx);
    tt_from_f32(TT_BF16, y, q, by);
    pair("far_bf16", TT_BF16, q / cols, cols, bx, by);
    for (size_t i = 0; i < q; i++)
        y[i] = x[i] * 1024.0f;
    pair("scaled_f32", TT_F32, q / cols, cols, y, x);
    fclose(g_man);
    if (tt_writer_close(g_wl) != TT_OK || tt_writer_close(g_wr) != TT_OK)
        return 1;
    tt_writer_free(g_wl);
    tt_writer_free(g_wr);
    free(x);
    free(y);
    free(bx);
    free(by);
    return 0;
}
