/*
 * test_diff_kernel.c — the element kernels of the differ (diff_metrics.c, diff_simd.c) against an independent
 * reference (long double sums, double decisions as tt/diff.h defines them) and against each other: the vector
 * kernel and the portable double loop must agree exactly on counts and maxima and to rounding on sums, with the
 * norms summed or taken from the records' statistics (cmp_acc_use_stats), for f32 and bf16, every tail length,
 * values on the tolerance bound and one float rounding either side of it, zeros, -0, subnormals, sign flips, huge
 * values, NaN/Inf, and tolerances at the edges of the kernel's float band (atol 0, tiny, huge; rtol out of range).
 * Then the statistics cross-check, the max |diff| index when float differences round to a tie, and tt_diff_run
 * on nearly identical large tensors (1 - cosine around 1e-9): whole, in row slabs and with 1 or 2 threads, equal
 * to each other bit for bit and to the reference.
 * Usage: test_diff_kernel OUTDIR
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "measure.h"
#include "tt/diff.h"
#include "tt/dtype.h"
#include "tt/reader.h"
#include "tt/writer.h"
#include "tt_test.h"

#include "diff_gen.h"

static char g_dir[512];
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

/* ---- the reference --------------------------------------------------------------------------------------- */

static double value_of(tt_dtype dt, const void *p, size_t i, uint32_t *bits)
{
    float f;
    if (dt == TT_BF16) {
        uint16_t u;
        memcpy(&u, (const uint8_t *)p + 2 * i, 2);
        *bits = u;
        uint32_t w = (uint32_t)u << 16;
        memcpy(&f, &w, 4);
    } else {
        memcpy(bits, (const uint8_t *)p + 4 * i, 4);
        memcpy(&f, bits, 4);
    }
    return f;
}

static int64_t ordinal_of(tt_dtype dt, uint32_t b)
{
    uint32_t sb = dt == TT_BF16 ? 15 : 31, mag = b & ((1u << sb) - 1);
    return (b >> sb) ? -(int64_t)mag : (int64_t)mag;
}

typedef struct ref {
    uint64_t elems, diff, outside, nanm, infm, max_index;
    uint64_t nonfinite; /* elements with a NaN or an infinity on either side */
    double max_abs, max_l, max_r, max_ulp;
    long double l2, r2, lr, d2;
} ref;

static void reference(tt_dtype dt, const void *a, const void *b, size_t n, double rtol, double atol, ref *r)
{
    memset(r, 0, sizeof *r);
    r->max_abs = -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t bx, by;
        double x = value_of(dt, a, i, &bx), y = value_of(dt, b, i, &by);
        r->elems++;
        r->diff += bx != by;
        r->nonfinite += !isfinite(x) || !isfinite(y);
        if (isnan(x) || isnan(y)) {
            r->nanm += isnan(x) != isnan(y);
            continue;
        }
        int64_t ox = ordinal_of(dt, bx), oy = ordinal_of(dt, by);
        double u = (double)(ox > oy ? ox - oy : oy - ox);
        r->max_ulp = u > r->max_ulp ? u : r->max_ulp;
        if (isinf(x) || isinf(y)) {
            r->infm += !(isinf(x) && isinf(y) && x == y);
            continue;
        }
        double d = x - y, ad = fabs(d);
        volatile double bound = rtol * fabs(y); /* no contraction into an fma: the library's loops have none */
        r->outside += ad > atol + bound;
        if (ad > r->max_abs) {
            r->max_abs = ad;
            r->max_index = i;
            r->max_l = x;
            r->max_r = y;
        }
        r->l2 += (long double)x * x;
        r->r2 += (long double)y * y;
        r->lr += (long double)x * y;
        r->d2 += (long double)d * d;
    }
}

static double ref_cosine(const ref *r)
{
    if (r->l2 == 0 || r->r2 == 0)
        return r->l2 == 0 && r->r2 == 0 ? 1 : 0;
    return (double)(r->lr / sqrtl(r->l2 * r->r2));
}

static double ref_rel_l2(const ref *r)
{
    return r->r2 > 0 ? (double)sqrtl(r->d2 / r->r2) : (r->d2 > 0 ? INFINITY : 0);
}

/* ---- one comparison through the kernels --------------------------------------------------------------------- */

enum { WAY_SIMD, WAY_PORTABLE, WAY_SIMD_STATS, WAY_PORTABLE_STATS, NWAYS };
static const char *const way_name[NWAYS] = {"vector", "portable", "vector+stats", "portable+stats"};

static int run_way(int way, tt_dtype dt, const void *a, const void *b, size_t n, double rtol, double atol,
                   tt_diff_metrics *m, int *consistent)
{
    cmp_acc acc;
    cmp_acc_init(&acc, 1);
    if (way == WAY_SIMD_STATS || way == WAY_PORTABLE_STATS) {
        tt_stats sa, sb;
        tt_stats_compute(dt, a, n, &sa);
        tt_stats_compute(dt, b, n, &sb);
        if (sa.nan_count || sa.inf_count || sb.nan_count || sb.inf_count)
            return 0; /* the differ uses statistics only for all-finite records */
        if (!cmp_acc_use_stats(&acc, sa.l2, sb.l2))
            return 0; /* norms too small: the same as without */
    }
    diff_simd_off = way == WAY_PORTABLE || way == WAY_PORTABLE_STATS;
    /* in pieces of uneven size, as row slabs would be */
    size_t off = 0, piece = n / 3 + 1;
    while (off < n) {
        size_t k = n - off < piece ? n - off : piece;
        size_t es = tt_dtype_size(dt);
        cmp_block(&acc, dt, (const uint8_t *)a + off * es, dt, (const uint8_t *)b + off * es, k, off, rtol, atol);
        off += k;
    }
    diff_simd_off = 0;
    *consistent = cmp_stats_consistent(&acc);
    memset(m, 0, sizeof *m);
    cmp_finish(&acc, m);
    return 1;
}

static int g_cases;

static void check_case(const char *what, tt_dtype dt, const void *a, const void *b, size_t n, double rtol,
                       double atol)
{
    ref r;
    reference(dt, a, b, n, rtol, atol, &r);
    double cos_ref = ref_cosine(&r), rl2_ref = ref_rel_l2(&r);
    tt_diff_metrics first;
    memset(&first, 0, sizeof first);
    int have_first = 0;
    for (int way = 0; way < NWAYS; way++) {
        tt_diff_metrics m;
        int consistent;
        if (!run_way(way, dt, a, b, n, rtol, atol, &m, &consistent))
            continue;
        g_cases++;
        int bad = tt_test_failures;
        CHECK(consistent);
        CHECK_EQ_U64(m.elems, r.elems);
        CHECK_EQ_U64(m.diff_elems, r.diff);
        CHECK_EQ_U64(m.outside_tol, r.outside);
        CHECK_EQ_U64(m.nan_mismatch, r.nanm);
        CHECK_EQ_U64(m.inf_mismatch, r.infm);
        CHECK_NEAR(m.max_ulp, r.max_ulp, 0);
        CHECK_NEAR(m.max_abs, r.max_abs < 0 ? 0 : r.max_abs, 0);
        if (r.max_abs >= 0) {
            CHECK_EQ_U64(m.max_abs_index, r.max_index);
            CHECK_NEAR(m.max_abs_left, r.max_l, 0);
            CHECK_NEAR(m.max_abs_right, r.max_r, 0);
        }
        /* sums: float squared differences in the vector kernel, double everywhere else */
        if (isfinite(rl2_ref))
            CHECK_NEAR(m.rel_l2, rl2_ref, 1e-6 * rl2_ref + 1e-300);
        else
            CHECK(m.rel_l2 == rl2_ref);
        /* blocks with a NaN or an infinity are summed element by element into the running sums: rounding grows
         * with the element count there (old behaviour, kept); elsewhere every sum is by blocks and lanes */
        CHECK_NEAR(m.cosine, cos_ref, r.nonfinite ? 1e-12 : 2e-14);
        /* the vector kernel and the portable loop agree exactly on counts and maxima */
        if (have_first) {
            CHECK_EQ_U64(m.outside_tol, first.outside_tol);
            CHECK_EQ_U64(m.diff_elems, first.diff_elems);
            CHECK_EQ_U64(m.max_abs_index, first.max_abs_index);
            CHECK_NEAR(m.max_abs, first.max_abs, 0);
            CHECK_NEAR(m.max_ulp, first.max_ulp, 0);
        } else {
            first = m;
            have_first = 1;
        }
        if (tt_test_failures != bad)
            fprintf(stderr, "  in case %s, %s, %zu elements, rtol %g atol %g, %s\n", what, tt_dtype_name(dt), n, rtol,
                    atol, way_name[way]);
    }
}

/* ---- data --------------------------------------------------------------------------------------------------- */

enum { D_DRIFT, D_NOISE, D_FAR, D_EDGE, D_SPARSE, D_SUBNORMAL, D_NONFINITE, D_HUGE, NDATA };
static const char *const data_name[NDATA] = {"drift",  "noise",     "far",       "edge",
                                             "sparse", "subnormal", "nonfinite", "huge"};

static float nextf(float x, int up)
{
    return nextafterf(x, up ? INFINITY : -INFINITY);
}

/* x and y as floats (rounded to bf16 by the caller when that is the dtype) */
static void make(int kind, size_t n, double rtol, double atol, float *x, float *y)
{
    for (size_t i = 0; i < n; i++) {
        float v = (float)(2 * dg_nrand(&g_rng));
        x[i] = y[i] = v;
        switch (kind) {
        case D_DRIFT:
            if (i % 3 == 0)
                x[i] = nextf(v, 1);
            break;
        case D_NOISE: x[i] = (float)(v * (1 + 1e-3 * dg_nrand(&g_rng))); break;
        case D_FAR: x[i] = (float)(3 * dg_nrand(&g_rng)); break;
        case D_EDGE:
            switch (i % 12) {
            case 0: break;
            case 1: x[i] = (float)(v + (atol + rtol * fabs(v))); break; /* on the bound, rounded */
            case 2: x[i] = nextf((float)(v + (atol + rtol * fabs(v))), 1); break;
            case 3: x[i] = nextf((float)(v + (atol + rtol * fabs(v))), 0); break;
            case 4: x[i] = (float)(v - (atol + rtol * fabs(v))); break;
            case 5: x[i] = -v; break;
            case 6: x[i] = 0.0f, y[i] = -0.0f; break;
            case 7: x[i] = 1e-40f, y[i] = -3e-40f; break; /* subnormals */
            case 8: y[i] = 1e-39f, x[i] = (float)(1e-39 * (1 + rtol)); break;
            case 9: x[i] = 0.0f, y[i] = 0.0f; break;
            case 10: x[i] = (float)(v * 1e-30), y[i] = nextf(x[i], 1); break;
            default: x[i] = (float)(v * 1e6); break;
            }
            break;
        case D_SPARSE:
            /* small differences, and now and then (not in every block) one just outside or on the bound, so
             * that blocks without any come before blocks with some */
            x[i] = (float)(v * (1 + 1e-7 * dg_nrand(&g_rng)));
            if (i % 1500 == 1499)
                y[i] = 0, x[i] = (float)(1.5 * atol + 1e-30);
            if (i % 1700 == 1699)
                x[i] = (float)(v + (atol + rtol * fabs(v)));
            if (i % 2300 == 2299)
                x[i] = nextf((float)(v - (atol + rtol * fabs(v))), i % 2);
            break;
        case D_SUBNORMAL: {
            /* bounds in the subnormal range, |diff| a whole number of subnormal steps around them */
            double yu = 4096 + (double)(i * 7919 % 1000003), bu = floor(atol * 0x1p149 + rtol * yu);
            if (bu > 1e7)
                bu = 1e7;
            y[i] = (float)ldexp(yu, -149) * (i % 2 ? 1 : -1);
            x[i] = (float)ldexp(yu + bu + (double)(i % 4) - 1, -149) * (i % 2 ? 1 : -1);
            break;
        }
        case D_NONFINITE:
            if (i % 301 == 7)
                x[i] = NAN;
            if (i % 499 == 11)
                y[i] = INFINITY, x[i] = (i % 2) ? INFINITY : -INFINITY;
            if (i % 773 == 5)
                x[i] = y[i] = NAN;
            if (i % 3 == 0)
                x[i] = nextf(x[i], 1);
            break;
        case D_HUGE:
            if (i % 97 == 3)
                x[i] = 3e38f, y[i] = -3e38f; /* the float difference overflows */
            else if (i % 89 == 1)
                x[i] = 1e25f, y[i] = 1e24f; /* the float square overflows */
            else if (i % 2)
                x[i] = nextf(v, 0);
            break;
        default: break;
        }
    }
}

static void test_kernels(void)
{
    static const size_t sizes[] = {1, 7, 15, 16, 17, 31, 1023, 1024, 1025, 2048 + 9, 6000, 65536 + 13};
    static const double tols[][2] = {
        {0x1p-5, 0.1},   /* bf16-like default */
        {1e-3, 0},       /* atol 0: the band's absolute slack, clamped at 0 */
        {0, 0},          /* exact */
        {1e-2, 1e-40},   /* atol below 2^-100 */
        {1e-35, 1e-3},   /* rtol below the band's range: the double loop */
        {0x1p-5, 1e35},  /* atol above it */
        {1e3, 0},        /* rtol over 1 */
        {2e-7, 3e-8},    /* about one f32 ulp */
    };
    size_t nmax = 65536 + 13;
    float *x = malloc(nmax * 4), *y = malloc(nmax * 4);
    uint8_t *a = malloc(nmax * 4 + 8), *b = malloc(nmax * 4 + 8);
    for (int kind = 0; kind < NDATA; kind++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (size_t t = 0; t < sizeof tols / sizeof tols[0]; t++) {
                size_t n = sizes[s];
                double rtol = tols[t][0], atol = tols[t][1];
                make(kind, n, rtol, atol, x, y);
                char what[64];
                snprintf(what, sizeof what, "%s/tol%zu", data_name[kind], t);
                check_case(what, TT_F32, x, y, n, rtol, atol);
                tt_from_f32(TT_BF16, x, n, a);
                tt_from_f32(TT_BF16, y, n, b);
                check_case(what, TT_BF16, a, b, n, rtol, atol);
                /* misaligned buffers: the kernel works on aligned copies */
                memmove(a + 1, a, n * 2);
                memmove(b + 1, b, n * 2);
                check_case(what, TT_BF16, a + 1, b + 1, n, rtol, atol);
                if (n < 4096) {
                    memcpy(a + 3, x, n * 4);
                    memcpy(b + 3, y, n * 4);
                    check_case(what, TT_F32, a + 3, b + 3, n, rtol, atol);
                }
            }
    free(x);
    free(y);
    free(a);
    free(b);
    printf("kernels: %d comparisons\n", g_cases);
}

/* Float differences that round to the same value: the larger double difference (in the second block) wins. */
static void test_float_ties(void)
{
    size_t n = 3000;
    float *x = calloc(n, 4), *y = calloc(n, 4);
    x[5] = 16777216.0f, y[5] = -0.3f;     /* |d| = 2^24 + 0.3, float 2^24 */
    x[1031] = 16777216.0f, y[1031] = -0.4f; /* |d| = 2^24 + 0.4, float 2^24: a float tie */
    x[2500] = 16777216.0f, y[2500] = -0.4f; /* an exact tie: the first one stays */
    check_case("float ties", TT_F32, x, y, n, 1e-3, 0);
    tt_diff_metrics m;
    int c;
    run_way(WAY_SIMD, TT_F32, x, y, n, 1e-3, 0, &m, &c);
    CHECK_EQ_U64(m.max_abs_index, 1031);
    /* the same with one sign: 2^24 exactly, then 2^24 + 0.5 that rounds to 2^24 in float */
    memset(x, 0, n * 4);
    memset(y, 0, n * 4);
    x[5] = 16777216.0f, y[5] = 0.0f;
    x[1500] = 16777218.0f, y[1500] = 1.5f;
    check_case("float ties, one sign", TT_F32, x, y, n, 1e-3, 0);
    run_way(WAY_SIMD, TT_F32, x, y, n, 1e-3, 0, &m, &c);
    CHECK_EQ_U64(m.max_abs_index, 1500);
    free(x);
    free(y);
}

/* Statistics that disagree with the data are caught by the cross-check. */
static void test_stats_check(void)
{
    size_t n = 100000;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    make(D_DRIFT, n, 0, 0, x, y);
    tt_stats sa, sb;
    tt_stats_compute(TT_F32, x, n, &sa);
    tt_stats_compute(TT_F32, y, n, &sb);
    static const double scale[] = {1, 1 + 1e-9, 1 - 1e-9, 1.001, 0.5};
    for (int off = 0; off < 2; off++)
        for (size_t k = 0; k < sizeof scale / sizeof scale[0]; k++) {
            cmp_acc acc;
            cmp_acc_init(&acc, 1);
            CHECK(cmp_acc_use_stats(&acc, off ? sa.l2 : sa.l2 * scale[k], off ? sb.l2 * scale[k] : sb.l2));
            diff_simd_off = off;
            cmp_block(&acc, TT_F32, x, TT_F32, y, n, 0, 1e-3, 0);
            diff_simd_off = 0;
            if (cmp_stats_consistent(&acc) != (k == 0))
                fprintf(stderr, "stats check: scale %.12g on the %s side: %d\n", scale[k], off ? "right" : "left",
                        cmp_stats_consistent(&acc));
            CHECK_EQ_INT(cmp_stats_consistent(&acc), k == 0);
        }
    /* NaN norms, negative norms */
    cmp_acc acc;
    cmp_acc_init(&acc, 1);
    CHECK(!cmp_acc_use_stats(&acc, NAN, sb.l2));
    CHECK(!cmp_acc_use_stats(&acc, sa.l2, 1e-9));
    CHECK(!cmp_acc_use_stats(&acc, 0, sb.l2));
    CHECK(!acc.stats);
    free(x);
    free(y);
}

/* ---- through tt_diff_run: nearly identical large tensors ---------------------------------------------------- */

static void put(tt_writer *w, const char *point, tt_dtype dt, const uint64_t *shape, const void *data)
{
    tt_key k = TT_KEY_INIT;
    k.prompt_id = "p";
    k.phase = "prefill";
    k.point = point;
    k.layer = 0;
    k.pos_id = 0;
    k.rows = (int32_t)shape[0];
    CHECK_STATUS(tt_put(w, &k, dt, 2, shape, data), TT_OK);
}

static tt_writer *open_w(const char *name)
{
    tt_writer *w = dg_open_writer(g_dir, name, "test_diff_kernel");
    return w;
}

static const tt_diff_pair *find(const tt_diff *d, const char *point)
{
    for (uint64_t i = 0; i < tt_diff_pair_count(d); i++)
        if (strcmp(tt_diff_pair_at(d, i)->point, point) == 0)
            return tt_diff_pair_at(d, i);
    return NULL;
}

static void test_near_identical(void)
{
    const uint64_t rows = 256, cols = 4096, n = rows * cols, shape[2] = {rows, cols};
    float *x = malloc(n * 4), *y = malloc(n * 4);
    uint16_t *bx = malloc(n * 2), *by = malloc(n * 2);
    for (uint64_t i = 0; i < n; i++) {
        x[i] = (float)dg_nrand(&g_rng);
        y[i] = (float)(x[i] * (1 + 4.5e-5 * dg_nrand(&g_rng))); /* 1 - cosine about 1e-9 */
    }
    tt_from_f32(TT_BF16, x, n, bx);
    memcpy(by, bx, n * 2);
    for (uint64_t i = 0; i < n; i += 9973)
        by[i]++; /* one bf16 ulp on 1e-4 of the elements: 1 - cosine about 1e-9 */
    tt_writer *wl = open_w("near_l.tt"), *wr = open_w("near_r.tt");
    put(wl, "near_f32", TT_F32, shape, x);
    put(wr, "near_f32", TT_F32, shape, y);
    put(wl, "near_bf16", TT_BF16, shape, bx);
    put(wr, "near_bf16", TT_BF16, shape, by);
    float *xn = malloc(n * 4), *yn = malloc(n * 4);
    memcpy(xn, x, n * 4);
    memcpy(yn, y, n * 4);
    xn[12345] = yn[12345] = NAN; /* statistics with a NaN: the norms are summed */
    put(wl, "near_nan", TT_F32, shape, xn);
    put(wr, "near_nan", TT_F32, shape, yn);
    CHECK_STATUS(tt_writer_close(wl), TT_OK);
    CHECK_STATUS(tt_writer_close(wr), TT_OK);
    tt_writer_free(wl);
    tt_writer_free(wr);

    char lp[1024], rp[1024];
    snprintf(lp, sizeof lp, "%s/near_l.tt", g_dir);
    snprintf(rp, sizeof rp, "%s/near_r.tt", g_dir);
    static const struct {
        uint32_t threads;
        uint64_t slab;
    } runs[] = {{1, 0}, {2, 0}, {1, 1u << 20}, {2, 3u << 18}};
    tt_diff_metrics first[3];
    memset(first, 0, sizeof first);
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        tt_diff_options o = TT_DIFF_OPTIONS_INIT;
        o.threads = runs[k].threads;
        o.slab_bytes = runs[k].slab;
        tt_diff *d = NULL;
        CHECK_STATUS(tt_diff_run(&d, lp, NULL, rp, NULL, &o), TT_OK);
        static const char *const points[3] = {"near_f32", "near_bf16", "near_nan"};
        for (int q = 0; q < 3; q++) {
            const tt_diff_pair *p = find(d, points[q]);
            CHECK(p != NULL);
            if (!p)
                continue;
            ref r;
            if (q == 1)
                reference(TT_BF16, bx, by, n, p->m.rtol, p->m.atol, &r);
            else
                reference(TT_F32, q ? xn : x, q ? yn : y, n, p->m.rtol, p->m.atol, &r);
            double cr = ref_cosine(&r);
            if (k == 0)
                printf("%s: 1 - cosine %.9g (reference %.9g), rel_l2 %.9g (reference %.9g)\n", points[q],
                       1 - p->m.cosine, 1 - cr, p->m.rel_l2, ref_rel_l2(&r));
            /* 1 - cosine to 1e-4 of itself */
            CHECK_NEAR(p->m.cosine, cr, 1e-13);
            CHECK(1 - cr > 1e-10 && 1 - cr < 1e-8);
            CHECK_NEAR(p->m.rel_l2, ref_rel_l2(&r), 1e-6 * ref_rel_l2(&r));
            CHECK_EQ_U64(p->m.outside_tol, r.outside);
            CHECK_EQ_U64(p->m.diff_elems, r.diff);
            CHECK_EQ_U64(p->m.nan_mismatch, r.nanm);
            CHECK_EQ_U64(p->m.max_abs_index, r.max_index);
            CHECK_NEAR(p->m.max_abs, r.max_abs, 0);
            CHECK_NEAR(p->m.max_ulp, r.max_ulp, 0);
            if (k == 0) {
                first[q] = p->m;
            } else {
                /* every thread count and slab size gives the same numbers */
                CHECK(p->m.cosine == first[q].cosine);
                CHECK(p->m.rel_l2 == first[q].rel_l2);
                CHECK(p->m.max_abs == first[q].max_abs);
                CHECK_EQ_U64(p->m.max_abs_index, first[q].max_abs_index);
                CHECK_EQ_U64(p->m.outside_tol, first[q].outside_tol);
            }
        }
        tt_diff_free(d);
    }
    free(x);
    free(y);
    free(xn);
    free(yn);
    free(bx);
    free(by);
}

int main(int argc, char **argv)
{
    snprintf(g_dir, sizeof g_dir, "%s", argc > 1 ? argv[1] : "diff_kernel_out");
    mkdir(g_dir, 0777);
    test_kernels();
    test_float_ties();
    test_stats_check();
    test_near_identical();
    return tt_test_exit();
}
