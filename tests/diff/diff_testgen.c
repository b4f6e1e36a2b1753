/*
 * diff_testgen.c — writes two traces (OUTDIR/left.tt, OUTDIR/right.tt) with one pseudo-random tensor pair per
 * dtype (f32 with NaN/Inf patterns, f16, bf16, f64, i32, fp8 e4m3, e5m2), right = left plus small noise, and the
 * raw little-endian bytes of every tensor (OUTDIR/<side>_<point>.bin) with a manifest (OUTDIR/manifest.tsv:
 * point dtype dims...), so that check_metrics.py can recompute every metric with numpy, independently of libtrace.
 * Usage: diff_testgen OUTDIR [seed]
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

static uint64_t rng = 88172645463325252ull;

static const char *g_dir;

static void save(const char *side, const char *point, const void *data, size_t n)
{
    dg_save(g_dir, side, point, data, n, "diff_testgen");
}

static tt_writer *open_w(const char *name)
{
    tt_writer *w = dg_open_writer(g_dir, name, "diff_testgen");
    tt_writer_set_meta(w, "engine", "diff_testgen");
    return w;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: diff_testgen OUTDIR [seed]\n");
        return 2;
    }
    g_dir = argv[1];
    mkdir(g_dir, 0777);
    if (argc > 2)
        rng ^= strtoull(argv[2], NULL, 10) * 0x9E3779B97F4A7C15ull;
    tt_writer *wl = open_w("left.tt"), *wr = open_w("right.tt");
    char mp[1024];
    snprintf(mp, sizeof mp, "%s/manifest.tsv", g_dir);
    FILE *man = fopen(mp, "w");
    if (!man)
        return 1;
    static const tt_dtype types[] = {TT_F32, TT_F16, TT_BF16, TT_F64, TT_I32, TT_F8_E4M3, TT_F8_E5M2};
    const uint64_t shape[3] = {5, 7, 37};
    const size_t n = 5 * 7 * 37;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    uint8_t *ba = malloc(n * 8), *bb = malloc(n * 8);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        tt_dtype dt = types[t];
        char point[64];
        snprintf(point, sizeof point, "t_%s", tt_dtype_name(dt));
        double scale = dt == TT_I32 ? 1000 : 3;
        for (size_t i = 0; i < n; i++) {
            a[i] = (float)(scale * dg_nrand(&rng));
            double noise = dt == TT_I32 ? (dg_urand(&rng) < 0.1 ? 1 : 0) : (dg_urand(&rng) < 0.3 ? dg_nrand(&rng) * 1e-3 : 0);
            b[i] = (float)(a[i] + noise * (dt == TT_I32 ? 1 : fabs(a[i]) + 0.01));
            if (i % 97 == 0)
                b[i] = a[i] * 1.02f; /* some elements beyond any default tolerance */
        }
        if (dt == TT_F32 || dt == TT_F16 || dt == TT_F64) {
            a[3] = NAN, b[3] = NAN;            /* agree */
            a[10] = NAN, b[10] = 1.0f;         /* NaN disagreement */
            a[20] = INFINITY, b[20] = INFINITY; /* agree */
            a[21] = INFINITY, b[21] = -INFINITY; /* Inf disagreement */
            a[22] = 5.0f, b[22] = INFINITY;    /* Inf disagreement */
            a[30] = 0.0f, b[30] = -0.0f;       /* bits differ, values equal */
        }
        size_t es = tt_dtype_size(dt);
        if (dt == TT_F64) {
            for (size_t i = 0; i < n; i++) {
                double x = a[i], y = b[i];
                if (isfinite(y) && i % 5 == 0)
                    y = x + x * 1e-13;
                memcpy(ba + 8 * i, &x, 8);
                memcpy(bb + 8 * i, &y, 8);
            }
        } else {
            tt_from_f32(dt, a, n, ba);
            tt_from_f32(dt, b, n, bb);
        }
        tt_key k = TT_KEY_INIT;
        k.prompt_id = "gen";
        k.phase = "prefill_last";
        k.point = point;
        k.layer = (int32_t)t;
        k.pos_id = 0;
        k.rows = 5;
        if (tt_put(wl, &k, dt, 3, shape, ba) != TT_OK || tt_put(wr, &k, dt, 3, shape, bb) != TT_OK) {
            fprintf(stderr, "diff_testgen: put failed\n");
            return 1;
        }
        save("left", point, ba, n * es);
        save("right", point, bb, n * es);
        fprintf(man, "%s\t%s\t%d\t5\t7\t37\n", point, tt_dtype_name(dt), (int)t);
    }
    fclose(man);
    if (tt_writer_close(wl) != TT_OK || tt_writer_close(wr) != TT_OK)
        return 1;
    tt_writer_free(wl);
    tt_writer_free(wr);
    free(a);
    free(b);
    free(ba);
    free(bb);
    return 0;
}
