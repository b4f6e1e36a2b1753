/*
 * dtype_dump.c — writes what check_dtype_numpy.py compares with numpy: a deterministic set of f32 inputs (edge
 * cases, rounding ties, random bit patterns, values spread over the f16 range, activation-like values), the
 * library's encodings of them, its decodings of every f16 and bf16 pattern, and its statistics over several of
 * these buffers. Usage: dtype_dump OUTDIR (the directory must exist). All files are raw little-endian arrays,
 * except stats.txt, which lists one statistics case a line with the doubles in C99 hex-float notation so that
 * nothing is lost in printing:
 *     name dtype file first count min max mean absmax l2 nan_count inf_count
 * Exit status: 0 on success, 1 on a library error or an I/O error (with a message on stderr).
 */
#include "tt/dtype.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RANDOM_BITS = 50000, SPREAD = 100000, TIES = 20000, ACTIVATIONS = 50000 };

static uint64_t rng_state = 0x243f6a8885a308d3u;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double rng_unit(void)
{
    return ((double)(rng_next() >> 11) + 0.5) * 0x1p-53;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static const char *out_dir;

static int write_file(const char *name, const void *data, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (bytes && fwrite(data, 1, bytes, f) != bytes) || fclose(f) != 0) {
        fprintf(stderr, "dtype_dump: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* The inputs: fixed edge cases first, then the random groups. Returns the count. */
static size_t make_inputs(float *x)
{
    static const float edges[] = {
        0.0f, -0.0f, 1.0f, -1.0f, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, 0x1p-149f, -0x1p-149f, INFINITY,
        -INFINITY, NAN, -NAN, 65504.0f, 65519.996f, 65520.0f, -65520.0f, 65536.0f, 0x1p-24f, 0x1p-25f,
        0x1.8p-24f, 0x1.000002p-25f, 0x1.ffcp-15f, 0x1p-14f, 0.5f, 1.5f, 2.5f, -2.5f, -0.5f, 127.5f, 128.5f,
        -128.5f, 255.5f, 2147483520.0f, 2147483648.0f, -2147483648.0f, 1e10f, -1e10f, 3.14159265f, 1.0e-8f,
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        x[n++] = edges[i];
    /* bf16 ties and near-ties: low half exactly 0x8000, or one off. */
    static const uint32_t bf16_ties[] = {0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u, 0x7f7f8000u,
                                         0x7f7fffffu, 0x00008000u, 0x00018000u, 0x7f800001u, 0xff800001u,
                                         0x7fc00000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof bf16_ties / sizeof bf16_ties[0]; i++)
        x[n++] = float_of(bf16_ties[i]);
    for (int i = 0; i < RANDOM_BITS; i++)
        x[n++] = float_of((uint32_t)rng_next());
    /* Random draws go to locals first: the order in which a call's arguments are evaluated is unspecified, and
     * the data must not depend on the compiler (the portable build is compared byte for byte). */
    for (int i = 0; i < SPREAD; i++) { /* log-uniform over and around the f16 range */
        double frac = rng_unit();
        int exp = -27 + (int)(rng_next() % 45);
        double m = ldexp(1.0 + frac, exp);
        x[n++] = (float)((rng_next() & 1) ? -m : m);
    }
    for (int i = 0; i < TIES; i++) { /* f16 midpoints and one f32 ulp either side */
        uint16_t h = (uint16_t)(rng_next() % 0x7bff);
        float lo = tt_f32_from_f16(h), hi = tt_f32_from_f16((uint16_t)(h + 1));
        float mid = (lo + hi) / 2;
        int k = (int)(rng_next() % 3);
        x[n++] = k == 0 ? mid : k == 1 ? nextafterf(mid, 0.0f) : nextafterf(mid, INFINITY);
    }
    for (int i = 0; i < ACTIVATIONS; i++) { /* roughly normal, like activations */
        double u1 = rng_unit(), u2 = rng_unit();
        double g = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        x[n++] = (float)(g * 3.0);
    }
    return n;
}

typedef struct stats_case {
    const char *name;
    tt_dtype dt;
    const char *file;
    const void *data; /* the whole file's contents */
    size_t first, count;
} stats_case;

static int write_stats(FILE *f, const stats_case *c)
{
    tt_stats st;
    const unsigned char *p = (const unsigned char *)c->data + c->first * tt_dtype_size(c->dt);
    int rc = tt_stats_compute(c->dt, c->count ? p : NULL, c->count, &st);
    if (rc != TT_OK) {
        fprintf(stderr, "dtype_dump: tt_stats_compute(%s) failed: %d\n", c->name, rc);
        return -1;
    }
    fprintf(f, "%s %s %s %zu %zu %a %a %a %a %a %" PRIu64 " %" PRIu64 "\n", c->name, tt_dtype_name(c->dt), c->file,
            c->first, c->count, st.min, st.max, st.mean, st.absmax, st.l2, st.nan_count, st.inf_count);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dtype_dump OUTDIR\n");
        return 1;
    }
    out_dir = argv[1];
    size_t cap = 200 + RANDOM_BITS + SPREAD + TIES + ACTIVATIONS;
    float *x = malloc(cap * sizeof *x), *dec16 = malloc(65536 * sizeof *dec16);
    float *decb16 = malloc(65536 * sizeof *decb16);
    uint16_t *f16 = malloc(cap * 2), *bf16 = malloc(cap * 2), *all16 = malloc(65536 * 2);
    int8_t *i8 = malloc(cap);
    int32_t *i32 = malloc(cap * 4);
    double *f64 = malloc(cap * 8);
    if (!x || !dec16 || !decb16 || !f16 || !bf16 || !all16 || !i8 || !i32 || !f64) {
        fprintf(stderr, "dtype_dump: out of memory\n");
        return 1;
    }
    size_t n = make_inputs(x);
    size_t act_first = n - ACTIVATIONS;
    for (uint32_t i = 0; i < 65536; i++)
        all16[i] = (uint16_t)i;
    int rc = tt_from_f32(TT_F16, x, n, f16) | tt_from_f32(TT_BF16, x, n, bf16) | tt_from_f32(TT_I8, x, n, i8) |
             tt_from_f32(TT_I32, x, n, i32) | tt_from_f32(TT_F64, x, n, f64) |
             tt_to_f32(TT_F16, all16, 65536, dec16) | tt_to_f32(TT_BF16, all16, 65536, decb16);
    if (rc != TT_OK) {
        fprintf(stderr, "dtype_dump: a conversion failed\n");
        return 1;
    }
    if (write_file("inputs.f32", x, n * 4) || write_file("enc_f16.u16", f16, n * 2) ||
        write_file("enc_bf16.u16", bf16, n * 2) || write_file("enc_i8.i8", i8, n) ||
        write_file("enc_i32.i32", i32, n * 4) || write_file("enc_f64.f64", f64, n * 8) ||
        write_file("all16.u16", all16, 65536 * 2) || write_file("dec_f16.f32", dec16, 65536 * 4) ||
        write_file("dec_bf16.f32", decb16, 65536 * 4))
        return 1;

    const stats_case cases[] = {
        {"f32_all", TT_F32, "inputs.f32", x, 0, n},
        {"f32_edges", TT_F32, "inputs.f32", x, 0, 60},
        {"f32_activations", TT_F32, "inputs.f32", x, act_first, ACTIVATIONS},
        {"f32_odd_slice", TT_F32, "inputs.f32", x, 3, 4097},
        {"f32_empty", TT_F32, "inputs.f32", x, 0, 0},
        {"f64_all", TT_F64, "enc_f64.f64", f64, 0, n},
        {"bf16_all", TT_BF16, "enc_bf16.u16", bf16, 0, n},
        {"bf16_activations", TT_BF16, "enc_bf16.u16", bf16, act_first, ACTIVATIONS},
        {"f16_all", TT_F16, "enc_f16.u16", f16, 0, n},
        {"f16_activations", TT_F16, "enc_f16.u16", f16, act_first, ACTIVATIONS},
        {"f16_patterns", TT_F16, "all16.u16", all16, 0, 65536},
        {"bf16_patterns", TT_BF16, "all16.u16", all16, 0, 65536},
        {"f16_nonfinite", TT_F16, "all16.u16", all16, 0x7c00, 0x400},
        {"i8_all", TT_I8, "enc_i8.i8", i8, 0, n},
        {"i8_short", TT_I8, "enc_i8.i8", i8, act_first, 100},
        {"i32_all", TT_I32, "enc_i32.i32", i32, 0, n},
    };
    char path[4096];
    snprintf(path, sizeof path, "%s/stats.txt", out_dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "dtype_dump: cannot write %s\n", path);
        return 1;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (write_stats(f, &cases[i]))
            return 1;
    if (fclose(f) != 0) {
        fprintf(stderr, "dtype_dump: cannot write %s\n", path);
        return 1;
    }
    free(x);
    free(dec16);
    free(decb16);
    free(f16);
    free(bf16);
    free(all16);
    free(i8);
    free(i32);
    free(f64);
    return 0;
}
