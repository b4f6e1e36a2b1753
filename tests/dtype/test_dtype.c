/*
 * test_dtype.c — unit tests of tt/dtype.h and the status names of tt/common.h.
 *
 * Conversions are checked against references written from the format definitions rather than from the library's
 * code: decoders against sign * mantissa * 2^exponent computed with ldexp, encoders against "the nearest
 * representable value, ties to the even code" found by searching the sorted table of decoded values. Every 8-bit
 * and 16-bit pattern is decoded and re-encoded, every midpoint between neighbouring values is rounded, and random
 * floats are compared with the nearest-value reference. Statistics are compared with a plain sequential loop in
 * double over the decoded elements.
 */
#include "tt/common.h"
#include "tt/dtype.h"
#include "tt_test.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <xxhash.h>

/* ---- helpers ------------------------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* splitmix64: deterministic, so a failure reproduces. */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) * 0x1p-53;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* A float of either sign whose magnitude is spread log-uniformly over [2^lo, 2^hi). */
static float random_float_in(int lo, int hi)
{
    double frac = rng_unit(); /* drawn in a fixed order: argument evaluation order is unspecified */
    int exp = lo + (int)(rng_next() % (uint64_t)(hi - lo));
    double m = ldexp(1.0 + frac, exp);
    return (float)((rng_next() & 1) ? -m : m);
}

/* Counts mismatches of a large loop and reports the first, so one bug does not print 65536 lines. */
typedef struct mismatch {
    const char *what;
    uint64_t count;
} mismatch;

static void mismatch_note(mismatch *m, uint32_t input, uint32_t got, uint32_t want)
{
    if (m->count++ == 0)
        fprintf(stderr, "%s: first mismatch at input 0x%08" PRIx32 ": got 0x%" PRIx32 ", want 0x%" PRIx32 "\n",
                m->what, input, got, want);
}

#define CHECK_NO_MISMATCH(m) CHECK_EQ_U64((m).count, 0)

/* ---- a binary floating-point format described from its definition ------------------------------------------- */

/* What the spec says about a small float format; the reference decoder and encoder below use nothing else. */
typedef struct format_spec {
    const char *name;
    tt_dtype dt;
    int ebits, mbits, bias;
    int ieee;     /* exponent all ones is inf (fraction 0) or NaN */
    int ocp_e4m3; /* no inf; S.1111.111 is NaN */
    int fnuz;     /* no inf; 0x80 is the only NaN; no negative zero */
} format_spec;

static const format_spec spec_f16 = {"f16", TT_F16, 5, 10, 15, 1, 0, 0};
static const format_spec spec_bf16 = {"bf16", TT_BF16, 8, 7, 127, 1, 0, 0};
static const format_spec spec_e4m3 = {"f8_e4m3", TT_F8_E4M3, 4, 3, 7, 0, 1, 0};
static const format_spec spec_e5m2 = {"f8_e5m2", TT_F8_E5M2, 5, 2, 15, 1, 0, 0};
static const format_spec spec_e4m3fnuz = {"f8_e4m3fnuz", TT_F8_E4M3FNUZ, 4, 3, 8, 0, 0, 1};
static const format_spec spec_e5m2fnuz = {"f8_e5m2fnuz", TT_F8_E5M2FNUZ, 5, 2, 16, 0, 0, 1};

static unsigned spec_width(const format_spec *s)
{
    return (unsigned)(1 + s->ebits + s->mbits);
}

static double spec_decode(const format_spec *s, uint32_t code)
{
    uint32_t sign_bit = 1u << (s->ebits + s->mbits);
    uint32_t e = (code >> s->mbits) & ((1u << s->ebits) - 1u);
    uint32_t m = code & ((1u << s->mbits) - 1u);
    uint32_t emax_field = (1u << s->ebits) - 1u;
    double sign = (code & sign_bit) ? -1.0 : 1.0;
    if (s->fnuz && code == sign_bit)
        return NAN;
    if (s->ieee && e == emax_field)
        return m ? NAN : sign * INFINITY;
    if (s->ocp_e4m3 && e == emax_field && m == (1u << s->mbits) - 1u)
        return NAN;
    if (e == 0)
        return sign * ldexp((double)m, 1 - s->bias - s->mbits);
    return sign * ldexp((double)((1u << s->mbits) + m), (int)e - s->bias - s->mbits);
}

/* The positive finite values in code order (which is value order): the reference encoder searches them. */
typedef struct value_table {
    const format_spec *spec;
    double *v;
    uint32_t count; /* codes 0..count-1 are the positive finite values */
} value_table;

static value_table table_build(const format_spec *s)
{
    value_table t = {s, NULL, 0};
    uint32_t half = 1u << (s->ebits + s->mbits);
    t.v = malloc(sizeof(double) * half);
    while (t.count < half && isfinite(spec_decode(s, t.count))) {
        t.v[t.count] = spec_decode(s, t.count);
        t.count++;
    }
    return t;
}

/* The code of the nearest value to f, ties to the even code; out-of-range values saturate or become inf as the
 * format says; NaN gives UINT32_MAX (callers check NaN by class). */
static uint32_t reference_encode(const value_table *t, float f)
{
    const format_spec *s = t->spec;
    uint32_t sign = signbit(f) ? 1u << (s->ebits + s->mbits) : 0;
    double a = fabs((double)f);
    if (isnan(f))
        return UINT32_MAX;
    uint32_t maxc = t->count - 1;
    double top = t->v[maxc];
    double ulp_top = top - t->v[maxc - 1];
    uint32_t code;
    if (a >= top) {
        /* Past the largest value, round as if the next value existed one ulp further. */
        int rounds_up = a > top + ulp_top / 2 || (a == top + ulp_top / 2 && (maxc & 1u));
        if (!rounds_up)
            code = maxc;
        else if (s->ieee)
            code = maxc + 1; /* the infinity code */
        else
            code = maxc;     /* saturate */
    } else {
        uint32_t lo = 0, hi = maxc; /* v[lo] <= a < v[hi] */
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (t->v[mid] <= a)
                lo = mid;
            else
                hi = mid;
        }
        double dl = a - t->v[lo], dh = t->v[hi] - a;
        code = (dl < dh || (dl == dh && !(lo & 1u))) ? lo : hi;
    }
    if (s->fnuz && code == 0)
        sign = 0;
    return sign | code;
}

static uint32_t lib_encode(tt_dtype dt, float f)
{
    unsigned char out[2] = {0, 0};
    CHECK_STATUS(tt_from_f32(dt, &f, 1, out), TT_OK);
    return tt_dtype_size(dt) == 1 ? out[0] : (uint32_t)out[0] | (uint32_t)out[1] << 8;
}

static float lib_decode(tt_dtype dt, uint32_t code)
{
    unsigned char in[2] = {(unsigned char)(code & 0xff), (unsigned char)(code >> 8)};
    float f = 0;
    CHECK_STATUS(tt_to_f32(dt, in, 1, &f), TT_OK);
    return f;
}

static int code_is_nan(const format_spec *s, uint32_t code)
{
    return isnan(spec_decode(s, code));
}

/* Decoding every pattern gives the spec's value (the sign of NaN kept for the non-FNUZ types), and tt_to_f64
 * agrees with tt_to_f32. */
static void check_decode_all(const format_spec *s)
{
    mismatch m = {s->name, 0};
    uint32_t n = 1u << spec_width(s);
    for (uint32_t c = 0; c < n; c++) {
        double want = spec_decode(s, c);
        float got = lib_decode(s->dt, c);
        unsigned char in[2] = {(unsigned char)(c & 0xff), (unsigned char)(c >> 8)};
        double wide = 0;
        CHECK_STATUS(tt_to_f64(s->dt, in, 1, &wide), TT_OK);
        if (isnan(want)) {
            int sign_ok = s->fnuz || !signbit(got) == !(c >> (spec_width(s) - 1));
            if (!isnan(got) || !isnan(wide) || !sign_ok)
                mismatch_note(&m, c, bits_of(got), 0x7fc00000u);
        } else if ((double)got != want || wide != want || !signbit(got) != !signbit(want)) {
            mismatch_note(&m, c, bits_of(got), bits_of((float)want));
        }
    }
    CHECK_NO_MISMATCH(m);
}

/* Encoding a decoded value gives its code back; NaN patterns come back as NaN (FNUZ: as 0x80). */
static void check_round_trip_all(const format_spec *s, uint32_t quiet_bit)
{
    mismatch m = {s->name, 0};
    uint32_t n = 1u << spec_width(s);
    for (uint32_t c = 0; c < n; c++) {
        uint32_t back = lib_encode(s->dt, lib_decode(s->dt, c));
        if (code_is_nan(s, c)) {
            if (!code_is_nan(s, back))
                mismatch_note(&m, c, back, c);
            if (quiet_bit && back != (c | quiet_bit)) /* IEEE types: payload kept, quieted */
                mismatch_note(&m, c, back, c | quiet_bit);
        } else if (back != c) {
            mismatch_note(&m, c, back, c);
        }
    }
    CHECK_NO_MISMATCH(m);
}

/* The code of magnitude c with a sign; FNUZ has no negative zero. */
static uint32_t with_sign(const format_spec *s, int neg, uint32_t c)
{
    if (!neg || (s->fnuz && c == 0))
        return c;
    return c | 1u << (s->ebits + s->mbits);
}

/* Every midpoint between neighbouring values rounds to the even code, and one float ulp either side rounds to
 * the nearer neighbour, for both signs. */
static void check_ties_all(const value_table *t)
{
    const format_spec *s = t->spec;
    mismatch m = {s->name, 0};
    for (uint32_t c = 0; c + 1 < t->count; c++) {
        float mid = (float)((t->v[c] + t->v[c + 1]) / 2); /* exact: one more bit than the format has */
        float below = nextafterf(mid, 0.0f), above = nextafterf(mid, INFINITY);
        uint32_t even = (c & 1u) ? c + 1 : c;
        for (int neg = 0; neg < 2; neg++) {
            float sg = neg ? -1.0f : 1.0f;
            const float in[3] = {sg * mid, sg * below, sg * above};
            const uint32_t want[3] = {with_sign(s, neg, even), with_sign(s, neg, c), with_sign(s, neg, c + 1)};
            for (int k = 0; k < 3; k++) {
                uint32_t got = lib_encode(s->dt, in[k]);
                if (got != want[k])
                    mismatch_note(&m, bits_of(in[k]), got, want[k]);
            }
        }
    }
    CHECK_NO_MISMATCH(m);
}

/* Random floats across (and beyond) the format's range, and random bit patterns, against the reference. */
static void check_random_encode(const value_table *t, int lo_exp, int hi_exp, int count)
{
    const format_spec *s = t->spec;
    mismatch m = {s->name, 0};
    for (int i = 0; i < count; i++) {
        float f = (i % 4 == 3) ? float_of((uint32_t)rng_next()) : random_float_in(lo_exp, hi_exp);
        uint32_t got = lib_encode(s->dt, f);
        uint32_t want = reference_encode(t, f);
        if (isnan(f)) {
            if (!code_is_nan(s, got))
                mismatch_note(&m, bits_of(f), got, 0);
        } else if (got != want) {
            mismatch_note(&m, bits_of(f), got, want);
        }
    }
    CHECK_NO_MISMATCH(m);
}

static void check_format(const format_spec *s, uint32_t quiet_bit, int random_count)
{
    value_table t = table_build(s);
    check_decode_all(s);
    check_round_trip_all(s, quiet_bit);
    check_ties_all(&t);
    int emin = 1 - s->bias;
    check_random_encode(&t, emin - s->mbits - 3, (int)ldexp(1.0, s->ebits) - s->bias + 2, random_count);
    free(t.v);
}

/* ---- conversions -------------------------------------------------------------------------------------------- */

static void test_bf16(void)
{
    CHECK_EQ_U64(bits_of(tt_f32_from_bf16(0x3f80)), 0x3f800000u);
    CHECK_EQ_U64(tt_bf16_from_f32(1.0f), 0x3f80);
    CHECK_EQ_U64(tt_bf16_from_f32(float_of(0x3f808000u)), 0x3f80); /* tie, even stays */
    CHECK_EQ_U64(tt_bf16_from_f32(float_of(0x3f818000u)), 0x3f82); /* tie, odd rounds up */
    CHECK_EQ_U64(tt_bf16_from_f32(float_of(0x3f808001u)), 0x3f81);
    CHECK_EQ_U64(tt_bf16_from_f32(FLT_MAX), 0x7f80);                /* beyond the last midpoint: inf */
    CHECK_EQ_U64(tt_bf16_from_f32(-FLT_MAX), 0xff80);
    CHECK_EQ_U64(tt_bf16_from_f32(float_of(0x7f7f7fffu)), 0x7f7f);
    CHECK_EQ_U64(tt_bf16_from_f32(INFINITY), 0x7f80);
    CHECK_EQ_U64(tt_bf16_from_f32(float_of(0x00000001u)), 0x0000); /* f32 subnormals round like the rest */
    CHECK_EQ_U64(tt_bf16_from_f32(float_of(0x00018000u)), 0x0002);
    CHECK_EQ_U64(tt_bf16_from_f32(float_of(0x7f800001u)), 0x7fc0); /* signaling NaN: stays NaN, quieted */
    CHECK_EQ_U64(tt_bf16_from_f32(float_of(0xff800001u)), 0xffc0);
    CHECK_EQ_U64(tt_bf16_from_f32(float_of(0x7fffffffu)), 0x7fff);
    check_format(&spec_bf16, 0x0040, 400000);
}

static void test_f16(void)
{
    CHECK_EQ_U64(tt_f16_from_f32(1.0f), 0x3c00);
    CHECK_EQ_U64(tt_f16_from_f32(65504.0f), 0x7bff);
    CHECK_EQ_U64(tt_f16_from_f32(nextafterf(65520.0f, 0.0f)), 0x7bff);
    CHECK_EQ_U64(tt_f16_from_f32(65520.0f), 0x7c00); /* the tie past the largest value goes to inf */
    CHECK_EQ_U64(tt_f16_from_f32(1e10f), 0x7c00);
    CHECK_EQ_U64(tt_f16_from_f32(-INFINITY), 0xfc00);
    CHECK_EQ_U64(tt_f16_from_f32(0x1p-24f), 0x0001); /* smallest subnormal */
    CHECK_EQ_U64(tt_f16_from_f32(0x1p-25f), 0x0000); /* tie to even: zero */
    CHECK_EQ_U64(tt_f16_from_f32(nextafterf(0x1p-25f, 1.0f)), 0x0001);
    CHECK_EQ_U64(tt_f16_from_f32(0x1.8p-24f), 0x0002); /* 1.5 quanta: tie to even */
    CHECK_EQ_U64(tt_f16_from_f32(0x1.ffcp-15f), 0x0400); /* largest subnormal + half: carries into the normals */
    CHECK_EQ_U64(tt_f16_from_f32(-0x1p-30f), 0x8000);
    CHECK_EQ_U64(tt_f16_from_f32(float_of(0x00000001u)), 0x0000);
    CHECK_EQ_U64(tt_f16_from_f32(-0.0f), 0x8000);
    CHECK(isnan(tt_f32_from_f16(0x7c01)));
    CHECK_EQ_U64(tt_f16_from_f32(float_of(0x7f802000u)), 0x7e01); /* signaling NaN: payload kept, quieted */
    CHECK_EQ_U64(tt_f16_from_f32(float_of(0x7f800001u)), 0x7e00); /* payload below f16's bits: still NaN */
    CHECK(tt_f32_from_f16(0x0001) == 0x1p-24f);
    CHECK(tt_f32_from_f16(0x03ff) == 0x1.ff8p-15f);
    CHECK(tt_f32_from_f16(0xfbff) == -65504.0f);
    CHECK(tt_f32_from_f16(0xfc00) == -INFINITY);
    check_format(&spec_f16, 0x0200, 1000000);
}

/* The fp8 family: known values from the OCP spec and the MI300 FNUZ definition, then the exhaustive checks. */
static void test_fp8(void)
{
    CHECK(lib_decode(TT_F8_E4M3, 0x7e) == 448.0f);
    CHECK(lib_decode(TT_F8_E4M3, 0x08) == 0x1p-6f);
    CHECK(lib_decode(TT_F8_E4M3, 0x01) == 0x1p-9f);
    CHECK(isnan(lib_decode(TT_F8_E4M3, 0x7f)) && isnan(lib_decode(TT_F8_E4M3, 0xff)));
    CHECK(lib_decode(TT_F8_E4M3, 0x78) == 256.0f); /* exponent all ones is an ordinary binade */
    CHECK(lib_decode(TT_F8_E5M2, 0x7b) == 57344.0f);
    CHECK(lib_decode(TT_F8_E5M2, 0x7c) == INFINITY && lib_decode(TT_F8_E5M2, 0xfc) == -INFINITY);
    CHECK(isnan(lib_decode(TT_F8_E5M2, 0x7d)) && isnan(lib_decode(TT_F8_E5M2, 0xff)));
    CHECK(lib_decode(TT_F8_E5M2, 0x01) == 0x1p-16f);
    CHECK(lib_decode(TT_F8_E4M3FNUZ, 0x7f) == 240.0f && lib_decode(TT_F8_E4M3FNUZ, 0xff) == -240.0f);
    CHECK(lib_decode(TT_F8_E4M3FNUZ, 0x01) == 0x1p-10f && lib_decode(TT_F8_E4M3FNUZ, 0x08) == 0x1p-7f);
    CHECK(isnan(lib_decode(TT_F8_E4M3FNUZ, 0x80)));
    CHECK(lib_decode(TT_F8_E5M2FNUZ, 0x7f) == 57344.0f && lib_decode(TT_F8_E5M2FNUZ, 0xfc) == -32768.0f);
    CHECK(lib_decode(TT_F8_E5M2FNUZ, 0x01) == 0x1p-17f);
    CHECK(isnan(lib_decode(TT_F8_E5M2FNUZ, 0x80)));

    /* Saturation where there is no infinity; IEEE overflow where there is one. */
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, 448.0f), 0x7e);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, 464.0f), 0x7e); /* the tie toward "480" (NaN's code) saturates */
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, 1e9f), 0x7e);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, INFINITY), 0x7e);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, -INFINITY), 0xfe);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, NAN), 0x7f);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, -NAN), 0xff);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, 0x1p-10f), 0x00); /* half the smallest subnormal: tie to zero */
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, nextafterf(0x1p-10f, 1.0f)), 0x01);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, 0x1.8p-9f), 0x02);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3, -0.0f), 0x80);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2, 57344.0f), 0x7b);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2, nextafterf(61440.0f, 0.0f)), 0x7b);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2, 61440.0f), 0x7c);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2, -1e9f), 0xfc);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2, INFINITY), 0x7c);
    CHECK(code_is_nan(&spec_e5m2, lib_encode(TT_F8_E5M2, NAN)));
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3FNUZ, 240.0f), 0x7f);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3FNUZ, 1e9f), 0x7f);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3FNUZ, -INFINITY), 0xff);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3FNUZ, NAN), 0x80);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3FNUZ, -NAN), 0x80);
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3FNUZ, -0.0f), 0x00); /* no negative zero */
    CHECK_EQ_U64(lib_encode(TT_F8_E4M3FNUZ, -0x1p-20f), 0x00);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2FNUZ, 57344.0f), 0x7f);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2FNUZ, 61440.0f), 0x7f);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2FNUZ, INFINITY), 0x7f);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2FNUZ, -INFINITY), 0xff);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2FNUZ, NAN), 0x80);
    CHECK_EQ_U64(lib_encode(TT_F8_E5M2FNUZ, -0.0f), 0x00);

    check_format(&spec_e4m3, 0, 200000);
    check_format(&spec_e5m2, 0, 200000);
    check_format(&spec_e4m3fnuz, 0, 200000);
    check_format(&spec_e5m2fnuz, 0, 200000);
}

static int64_t encode_int(tt_dtype dt, float f)
{
    unsigned char out[8] = {0};
    double back = 0;
    CHECK_STATUS(tt_from_f32(dt, &f, 1, out), TT_OK);
    CHECK_STATUS(tt_to_f64(dt, out, 1, &back), TT_OK);
    return (int64_t)back;
}

static void test_integers(void)
{
    CHECK_EQ_INT(encode_int(TT_I8, 2.5f), 2);
    CHECK_EQ_INT(encode_int(TT_I8, 3.5f), 4);
    CHECK_EQ_INT(encode_int(TT_I8, -2.5f), -2);
    CHECK_EQ_INT(encode_int(TT_I8, -3.5f), -4);
    CHECK_EQ_INT(encode_int(TT_I8, 0.5f), 0);
    CHECK_EQ_INT(encode_int(TT_I8, -0.5f), 0);
    CHECK_EQ_INT(encode_int(TT_I8, 0.50000006f), 1);
    CHECK_EQ_INT(encode_int(TT_I8, 1.4999999f), 1);
    CHECK_EQ_INT(encode_int(TT_I8, 127.4f), 127);
    CHECK_EQ_INT(encode_int(TT_I8, 127.5f), 127);
    CHECK_EQ_INT(encode_int(TT_I8, 200.0f), 127);
    CHECK_EQ_INT(encode_int(TT_I8, -128.5f), -128);
    CHECK_EQ_INT(encode_int(TT_I8, -300.0f), -128);
    CHECK_EQ_INT(encode_int(TT_I8, NAN), 0);
    CHECK_EQ_INT(encode_int(TT_I8, INFINITY), 127);
    CHECK_EQ_INT(encode_int(TT_I8, -INFINITY), -128);
    CHECK_EQ_INT(encode_int(TT_U8, -1.0f), 0);
    CHECK_EQ_INT(encode_int(TT_U8, -0.4f), 0);
    CHECK_EQ_INT(encode_int(TT_U8, 254.5f), 254);
    CHECK_EQ_INT(encode_int(TT_U8, 255.5f), 255);
    CHECK_EQ_INT(encode_int(TT_U8, 1e30f), 255);
    CHECK_EQ_INT(encode_int(TT_I16, 32767.5f), 32767);
    CHECK_EQ_INT(encode_int(TT_I16, -32768.0f), -32768);
    CHECK_EQ_INT(encode_int(TT_I16, -1e6f), -32768);
    CHECK_EQ_INT(encode_int(TT_I16, 1234.5f), 1234);
    CHECK_EQ_INT(encode_int(TT_I32, 2147483520.0f), 2147483520); /* the largest float below 2^31 */
    CHECK_EQ_INT(encode_int(TT_I32, 2147483648.0f), INT32_MAX);
    CHECK_EQ_INT(encode_int(TT_I32, -2147483648.0f), INT32_MIN);
    CHECK_EQ_INT(encode_int(TT_I32, -3e9f), INT32_MIN);
    CHECK_EQ_INT(encode_int(TT_I32, 4194304.5f), 4194304); /* 2^22 + 0.5: the last binade with halves */
    CHECK_EQ_INT(encode_int(TT_I32, 4194305.5f), 4194306);
    CHECK_EQ_INT(encode_int(TT_I32, -4194305.5f), -4194306);
    CHECK_EQ_INT(encode_int(TT_I32, 16777217.0f), 16777216);

    /* i64 through tt_to_f64 would round; read the stored bits instead. */
    float big[4] = {9.2233715e18f, 1e19f, -9.3e18f, INFINITY};
    int64_t out64[4];
    CHECK_STATUS(tt_from_f32(TT_I64, big, 4, out64), TT_OK);
    CHECK_EQ_INT(out64[0], 9223371487098961920LL); /* 2^63 - 2^39, the largest float below 2^63 */
    CHECK_EQ_INT(out64[1], INT64_MAX);
    CHECK(out64[2] == INT64_MIN);
    CHECK_EQ_INT(out64[3], INT64_MAX);

    /* Integers widen to double exactly; to float they round to nearest. */
    int64_t i64[3] = {INT64_MIN, INT64_MAX, 9007199254740993LL};
    double d64[3];
    float f64[3];
    CHECK_STATUS(tt_to_f64(TT_I64, i64, 3, d64), TT_OK);
    CHECK(d64[0] == -0x1p63 && d64[1] == 0x1p63 && d64[2] == 9007199254740992.0);
    CHECK_STATUS(tt_to_f32(TT_I64, i64, 3, f64), TT_OK);
    CHECK(f64[0] == -0x1p63f && f64[1] == 0x1p63f);
    int32_t i32[3] = {INT32_MIN, INT32_MAX, 16777217};
    double d32[3];
    float f32v[3];
    CHECK_STATUS(tt_to_f64(TT_I32, i32, 3, d32), TT_OK);
    CHECK(d32[0] == -2147483648.0 && d32[1] == 2147483647.0 && d32[2] == 16777217.0);
    CHECK_STATUS(tt_to_f32(TT_I32, i32, 3, f32v), TT_OK);
    CHECK(f32v[1] == 2147483648.0f && f32v[2] == 16777216.0f);
    int16_t i16[2] = {INT16_MIN, INT16_MAX};
    int8_t i8[2] = {INT8_MIN, INT8_MAX};
    uint8_t u8[2] = {0, UINT8_MAX};
    double d[2];
    CHECK_STATUS(tt_to_f64(TT_I16, i16, 2, d), TT_OK);
    CHECK(d[0] == -32768.0 && d[1] == 32767.0);
    CHECK_STATUS(tt_to_f64(TT_I8, i8, 2, d), TT_OK);
    CHECK(d[0] == -128.0 && d[1] == 127.0);
    CHECK_STATUS(tt_to_f64(TT_U8, u8, 2, d), TT_OK);
    CHECK(d[0] == 0.0 && d[1] == 255.0);
    double f64in = 0x1.0000001p0; /* f64 to float rounds to nearest */
    float f64out;
    CHECK_STATUS(tt_to_f32(TT_F64, &f64in, 1, &f64out), TT_OK);
    CHECK(f64out == 1.0f);
}

/* Bulk calls over odd lengths and unaligned buffers agree with the single-value functions. */
static void test_bulk(void)
{
    enum { N = 1037 };
    float in[N], back[N];
    unsigned char raw[N * 8 + 1];
    double wide[N];
    for (int i = 0; i < N; i++)
        in[i] = i % 97 == 5 ? NAN : i % 89 == 7 ? -INFINITY : random_float_in(-30, 20);
    for (int dt = 1; dt < TT_DTYPE_COUNT; dt++) {
        size_t es = tt_dtype_size((tt_dtype)dt);
        unsigned char *p = raw + 1; /* misaligned on purpose */
        CHECK_STATUS(tt_from_f32((tt_dtype)dt, in, N, p), TT_OK);
        CHECK_STATUS(tt_to_f32((tt_dtype)dt, p, N, back), TT_OK);
        CHECK_STATUS(tt_to_f64((tt_dtype)dt, p, N, wide), TT_OK);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            float one = 0;
            CHECK_STATUS(tt_to_f32((tt_dtype)dt, p + (size_t)i * es, 1, &one), TT_OK);
            if (bits_of(one) != bits_of(back[i]) || (!isnan(wide[i]) && wide[i] != (double)back[i] &&
                                                     dt != TT_F64 && dt != TT_I32 && dt != TT_I64))
                bad++;
        }
        CHECK_EQ_INT(bad, 0);
    }
    for (int i = 0; i < N; i++) {
        uint16_t h;
        unsigned char enc[2];
        CHECK_STATUS(tt_from_f32(TT_BF16, &in[i], 1, enc), TT_OK);
        h = (uint16_t)(enc[0] | enc[1] << 8);
        CHECK_EQ_U64(h, tt_bf16_from_f32(in[i]));
        CHECK_STATUS(tt_from_f32(TT_F16, &in[i], 1, enc), TT_OK);
        h = (uint16_t)(enc[0] | enc[1] << 8);
        CHECK_EQ_U64(h, tt_f16_from_f32(in[i]));
    }
    /* f32 and f64 round trip exactly. */
    CHECK_STATUS(tt_from_f32(TT_F64, in, N, raw), TT_OK);
    CHECK_STATUS(tt_to_f32(TT_F64, raw, N, back), TT_OK);
    CHECK(memcmp(in, back, sizeof in) == 0);

    /* Arguments. */
    float f = 1.0f;
    CHECK_STATUS(tt_to_f32(TT_DTYPE_UNKNOWN, raw, 1, back), TT_E_INVAL);
    CHECK_STATUS(tt_to_f64((tt_dtype)TT_DTYPE_COUNT, raw, 1, wide), TT_E_INVAL);
    CHECK_STATUS(tt_from_f32((tt_dtype)99, &f, 1, raw), TT_E_INVAL);
    CHECK_STATUS(tt_to_f32(TT_F32, NULL, 1, back), TT_E_INVAL);
    CHECK_STATUS(tt_to_f64(TT_F32, raw, 1, NULL), TT_E_INVAL);
    CHECK_STATUS(tt_from_f32(TT_F32, &f, 1, NULL), TT_E_INVAL);
    CHECK_STATUS(tt_to_f32(TT_F32, NULL, 0, NULL), TT_OK);
    CHECK_STATUS(tt_from_f32(TT_BF16, NULL, 0, NULL), TT_OK);
}

/* ---- names and sizes ---------------------------------------------------------------------------------------- */

static void test_names(void)
{
    static const struct {
        tt_dtype dt;
        const char *name;
        size_t size;
        int is_float;
    } expect[] = {
        {TT_F32, "f32", 4, 1},          {TT_F16, "f16", 2, 1},
        {TT_BF16, "bf16", 2, 1},        {TT_F64, "f64", 8, 1},
        {TT_I8, "i8", 1, 0},            {TT_U8, "u8", 1, 0},
        {TT_I16, "i16", 2, 0},          {TT_I32, "i32", 4, 0},
        {TT_I64, "i64", 8, 0},          {TT_F8_E4M3, "f8_e4m3", 1, 1},
        {TT_F8_E5M2, "f8_e5m2", 1, 1},  {TT_F8_E4M3FNUZ, "f8_e4m3fnuz", 1, 1},
        {TT_F8_E5M2FNUZ, "f8_e5m2fnuz", 1, 1},
    };
    CHECK_EQ_INT(sizeof expect / sizeof expect[0], TT_DTYPE_COUNT - 1);
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        tt_dtype got = TT_DTYPE_UNKNOWN;
        CHECK_EQ_STR(tt_dtype_name(expect[i].dt), expect[i].name);
        CHECK_EQ_U64(tt_dtype_size(expect[i].dt), expect[i].size);
        CHECK_EQ_INT(tt_dtype_is_float(expect[i].dt), expect[i].is_float);
        CHECK_STATUS(tt_dtype_from_name(expect[i].name, &got), TT_OK);
        CHECK_EQ_INT(got, expect[i].dt);
    }
    static const struct {
        const char *alias;
        tt_dtype dt;
    } aliases[] = {
        {"float32", TT_F32}, {"float16", TT_F16}, {"bfloat16", TT_BF16},        {"float64", TT_F64},
        {"int8", TT_I8},     {"uint8", TT_U8},    {"int16", TT_I16},            {"int32", TT_I32},
        {"int64", TT_I64},   {"fp8_e4m3", TT_F8_E4M3}, {"fp8_e5m2", TT_F8_E5M2},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        tt_dtype got = TT_DTYPE_UNKNOWN;
        CHECK_STATUS(tt_dtype_from_name(aliases[i].alias, &got), TT_OK);
        CHECK_EQ_INT(got, aliases[i].dt);
    }
    static const char *const bad[] = {"", "F32", "f33", "float", "unknown", " f32", "f32 ", "bf16x", "fp8",
                                      "fp8_e4m3fnuz", "f8_e4m3fn"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tt_dtype got = TT_I64;
        CHECK_STATUS(tt_dtype_from_name(bad[i], &got), TT_E_PARSE);
        CHECK_EQ_INT(got, TT_I64); /* untouched */
    }
    tt_dtype got = TT_I64;
    CHECK_STATUS(tt_dtype_from_name(NULL, &got), TT_E_INVAL);
    CHECK_STATUS(tt_dtype_from_name("f32", NULL), TT_E_INVAL);

    CHECK_EQ_STR(tt_dtype_name(TT_DTYPE_UNKNOWN), "unknown");
    CHECK_EQ_STR(tt_dtype_name((tt_dtype)TT_DTYPE_COUNT), "unknown");
    CHECK_EQ_STR(tt_dtype_name((tt_dtype)-1), "unknown");
    CHECK_EQ_U64(tt_dtype_size(TT_DTYPE_UNKNOWN), 0);
    CHECK_EQ_U64(tt_dtype_size((tt_dtype)TT_DTYPE_COUNT), 0);
    CHECK_EQ_U64(tt_dtype_size((tt_dtype)-1), 0);
    CHECK_EQ_U64(tt_dtype_size((tt_dtype)1000), 0);
    CHECK_EQ_INT(tt_dtype_is_float(TT_DTYPE_UNKNOWN), 0);
    CHECK_EQ_INT(tt_dtype_is_float((tt_dtype)-5), 0);
}

/* ---- shapes ------------------------------------------------------------------------------------------------- */

static void test_shapes(void)
{
    uint64_t elems = 7, nbytes = 7;
    const uint64_t two31 = (uint64_t)1 << 31;
    CHECK_STATUS(tt_shape_elems(0, NULL, 4, &elems, &nbytes), TT_OK);
    CHECK_EQ_U64(elems, 1);
    CHECK_EQ_U64(nbytes, 4);
    uint64_t s3[3] = {2, 3, 4};
    CHECK_STATUS(tt_shape_elems(3, s3, 2, &elems, &nbytes), TT_OK);
    CHECK_EQ_U64(elems, 24);
    CHECK_EQ_U64(nbytes, 48);
    CHECK_STATUS(tt_shape_elems(3, s3, 2, NULL, NULL), TT_OK);
    uint64_t s_zero[3] = {5, 0, 7};
    CHECK_STATUS(tt_shape_elems(3, s_zero, 8, &elems, &nbytes), TT_OK);
    CHECK_EQ_U64(elems, 0);
    CHECK_EQ_U64(nbytes, 0);
    uint64_t s_zero_big[3] = {two31, 0, two31}; /* would overflow, but an empty tensor */
    CHECK_STATUS(tt_shape_elems(3, s_zero_big, 8, &elems, &nbytes), TT_OK);
    CHECK_EQ_U64(elems, 0);
    uint64_t s_zero_huge[2] = {0, UINT64_MAX}; /* a dimension that large is corrupt even when empty */
    CHECK_STATUS(tt_shape_elems(2, s_zero_huge, 1, &elems, &nbytes), TT_E_LIMIT);

    elems = nbytes = 99;
    uint64_t s_limit[2] = {two31, two31}; /* exactly 2^62 */
    CHECK_STATUS(tt_shape_elems(2, s_limit, 1, &elems, &nbytes), TT_E_LIMIT);
    CHECK_EQ_U64(elems, 99); /* untouched on error */
    uint64_t s_below[2] = {two31, two31 - 1};
    CHECK_STATUS(tt_shape_elems(2, s_below, 1, &elems, &nbytes), TT_OK);
    CHECK_EQ_U64(elems, two31 * (two31 - 1));
    CHECK_STATUS(tt_shape_elems(2, s_below, 2, &elems, &nbytes), TT_E_LIMIT); /* bytes reach 2^63 */
    uint64_t s_bytes[1] = {(uint64_t)1 << 60};
    CHECK_STATUS(tt_shape_elems(1, s_bytes, 4, &elems, &nbytes), TT_E_LIMIT); /* 2^62 bytes */
    uint64_t s_bytes_ok[1] = {((uint64_t)1 << 60) - 1};
    CHECK_STATUS(tt_shape_elems(1, s_bytes_ok, 4, &elems, &nbytes), TT_OK);
    CHECK_EQ_U64(nbytes, ((uint64_t)1 << 62) - 4);
    uint64_t s_wrap[2] = {UINT64_MAX, UINT64_MAX}; /* wraps to 1 in 64-bit arithmetic */
    CHECK_STATUS(tt_shape_elems(2, s_wrap, 1, &elems, &nbytes), TT_E_LIMIT);
    uint64_t s_wrap2[2] = {(uint64_t)1 << 32, (uint64_t)1 << 32}; /* wraps to 0 */
    CHECK_STATUS(tt_shape_elems(2, s_wrap2, 1, &elems, &nbytes), TT_E_LIMIT);
    uint64_t s_max[8] = {2, 2, 2, 2, 2, 2, 2, 2};
    CHECK_STATUS(tt_shape_elems(TT_MAX_DIMS, s_max, 1, &elems, &nbytes), TT_OK);
    CHECK_EQ_U64(elems, 256);
    uint64_t s_nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK_STATUS(tt_shape_elems(TT_MAX_DIMS + 1, s_nine, 1, &elems, &nbytes), TT_E_INVAL);
    CHECK_STATUS(tt_shape_elems(-1, s_nine, 1, &elems, &nbytes), TT_E_INVAL);
    CHECK_STATUS(tt_shape_elems(2, NULL, 1, &elems, &nbytes), TT_E_INVAL);
    CHECK_STATUS(tt_shape_elems(1, s3, 0, &elems, &nbytes), TT_OK);
    CHECK_EQ_U64(nbytes, 0);
}

/* ---- hash --------------------------------------------------------------------------------------------------- */

static void test_hash(void)
{
    unsigned char buf[4099];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)rng_next();
    for (size_t n = 0; n <= 300; n++)
        CHECK_EQ_U64(tt_hash(buf, n), XXH3_64bits(buf, n));
    CHECK_EQ_U64(tt_hash(buf + 1, sizeof buf - 1), XXH3_64bits(buf + 1, sizeof buf - 1));
    CHECK_EQ_U64(tt_hash(NULL, 0), XXH3_64bits(NULL, 0));
    CHECK_EQ_U64(tt_hash("", 0), 0x2d06800538d394c2u); /* XXH3-64 of nothing, from the xxHash test vectors */
}

/* ---- statistics --------------------------------------------------------------------------------------------- */

/* The plain sequential definition over decoded elements. */
static tt_stats reference_stats(tt_dtype dt, const void *data, size_t n)
{
    tt_stats r = {INFINITY, -INFINITY, 0, 0, 0, 0, 0};
    double *v = malloc(sizeof(double) * (n ? n : 1));
    double sum = 0, sq = 0;
    uint64_t finite = 0;
    CHECK_STATUS(tt_to_f64(dt, data, n, v), TT_OK);
    if (dt == TT_I64) { /* tt_to_f64 is checked elsewhere; stay independent of it for the one inexact type */
        for (size_t i = 0; i < n; i++) {
            int64_t x;
            memcpy(&x, (const unsigned char *)data + 8 * i, 8);
            v[i] = (double)x;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            r.nan_count++;
        } else if (isinf(v[i])) {
            r.inf_count++;
        } else {
            finite++;
            r.min = fmin(r.min, v[i]);
            r.max = fmax(r.max, v[i]);
            sum += v[i];
            sq += v[i] * v[i];
        }
    }
    free(v);
    if (!finite) {
        r.min = r.max = r.mean = r.absmax = r.l2 = NAN;
        return r;
    }
    r.mean = sum / (double)finite;
    r.absmax = fmax(fabs(r.min), fabs(r.max));
    r.l2 = sqrt(sq);
    return r;
}

static int same_or_both_nan(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* min, max, absmax and the counts are exact; mean and l2 within rounding of the summation order. */
static void check_stats_against_reference(const char *what, tt_dtype dt, const void *data, size_t n)
{
    tt_stats got, want = reference_stats(dt, data, n);
    CHECK_STATUS(tt_stats_compute(dt, data, n, &got), TT_OK);
    int ok = same_or_both_nan(got.min, want.min) && same_or_both_nan(got.max, want.max) &&
             same_or_both_nan(got.absmax, want.absmax) && got.nan_count == want.nan_count &&
             got.inf_count == want.inf_count;
    double scale = want.absmax;
    ok = ok && (isnan(want.mean) ? isnan(got.mean) : fabs(got.mean - want.mean) <= 1e-12 * scale);
    ok = ok && (isnan(want.l2) ? isnan(got.l2)
                               : isinf(want.l2) ? got.l2 == want.l2 : fabs(got.l2 - want.l2) <= 1e-12 * want.l2);
    if (!ok) {
        fprintf(stderr,
                "%s (%s, n=%zu): got min %.17g max %.17g mean %.17g absmax %.17g l2 %.17g nan %" PRIu64
                " inf %" PRIu64 "\n  want min %.17g max %.17g mean %.17g absmax %.17g l2 %.17g nan %" PRIu64
                " inf %" PRIu64 "\n",
                what, tt_dtype_name(dt), n, got.min, got.max, got.mean, got.absmax, got.l2, got.nan_count,
                got.inf_count, want.min, want.max, want.mean, want.absmax, want.l2, want.nan_count, want.inf_count);
    }
    CHECK(ok);
}

static void test_stats_basic(void)
{
    tt_stats st;
    const float v[7] = {1.0f, -2.0f, 3.0f, NAN, INFINITY, -INFINITY, 0.5f};
    CHECK_STATUS(tt_stats_compute(TT_F32, v, 7, &st), TT_OK);
    CHECK(st.min == -2.0 && st.max == 3.0 && st.absmax == 3.0);
    CHECK_NEAR(st.mean, 2.5 / 4, 1e-15);
    CHECK_NEAR(st.l2, sqrt(14.25), 1e-15);
    CHECK_EQ_U64(st.nan_count, 1);
    CHECK_EQ_U64(st.inf_count, 2);

    CHECK_STATUS(tt_stats_compute(TT_F32, NULL, 0, &st), TT_OK); /* empty */
    CHECK(isnan(st.min) && isnan(st.max) && isnan(st.mean) && isnan(st.absmax) && isnan(st.l2));
    CHECK_EQ_U64(st.nan_count, 0);
    CHECK_EQ_U64(st.inf_count, 0);

    float nans[3000];
    for (int i = 0; i < 3000; i++)
        nans[i] = i % 2 ? NAN : -INFINITY;
    CHECK_STATUS(tt_stats_compute(TT_F32, nans, 3000, &st), TT_OK);
    CHECK(isnan(st.min) && isnan(st.max) && isnan(st.mean) && isnan(st.absmax) && isnan(st.l2));
    CHECK_EQ_U64(st.nan_count, 1500);
    CHECK_EQ_U64(st.inf_count, 1500);

    /* Non-finite elements must not stand in for a value in min or max: all finite values of one sign, with NaN
     * and both infinities in the vector loop's groups and in the tail. */
    static const tt_dtype float_types[] = {TT_F32, TT_F16, TT_BF16, TT_F64};
    for (size_t t = 0; t < sizeof float_types / sizeof float_types[0]; t++) {
        for (int neg = 0; neg < 2; neg++) {
            enum { M = 2051 };
            float one_sign[M];
            unsigned char enc[M * 8];
            for (int i = 0; i < M; i++)
                one_sign[i] = (neg ? -1.0f : 1.0f) * (float)(1 + i % 100);
            one_sign[5] = NAN;
            one_sign[17] = INFINITY;
            one_sign[18] = -INFINITY;
            one_sign[M - 1] = -INFINITY;
            one_sign[M - 2] = NAN;
            CHECK_STATUS(tt_from_f32(float_types[t], one_sign, M, enc), TT_OK);
            CHECK_STATUS(tt_stats_compute(float_types[t], enc, M, &st), TT_OK);
            CHECK(st.min == (neg ? -100.0 : 1.0) && st.max == (neg ? -1.0 : 100.0));
            CHECK_EQ_U64(st.nan_count, 2);
            CHECK_EQ_U64(st.inf_count, 3);
            check_stats_against_reference("one sign", float_types[t], enc, M);
        }
    }

    const double huge[2] = {1e200, -1e200}; /* finite, but the sum of squares overflows */
    CHECK_STATUS(tt_stats_compute(TT_F64, huge, 2, &st), TT_OK);
    CHECK(st.min == -1e200 && st.max == 1e200 && st.mean == 0 && st.absmax == 1e200 && isinf(st.l2));
    CHECK_EQ_U64(st.nan_count + st.inf_count, 0);

    const int64_t ext[2] = {INT64_MIN, INT64_MAX};
    CHECK_STATUS(tt_stats_compute(TT_I64, ext, 2, &st), TT_OK);
    CHECK(st.min == -0x1p63 && st.max == 0x1p63 && st.mean == 0 && st.absmax == 0x1p63);

    const uint8_t fp8[6] = {0x7f, 0xff, 0x38, 0xb8, 0x7e, 0x00}; /* e4m3: NaN, -NaN, 1, -1, 448, 0 */
    CHECK_STATUS(tt_stats_compute(TT_F8_E4M3, fp8, 6, &st), TT_OK);
    CHECK(st.min == -1.0 && st.max == 448.0 && st.absmax == 448.0);
    CHECK_EQ_U64(st.nan_count, 2);
    const uint8_t e5m2[4] = {0x7c, 0xfc, 0x7d, 0x3c}; /* inf, -inf, NaN, 1 */
    CHECK_STATUS(tt_stats_compute(TT_F8_E5M2, e5m2, 4, &st), TT_OK);
    CHECK(st.min == 1.0 && st.max == 1.0 && st.mean == 1.0);
    CHECK_EQ_U64(st.nan_count, 1);
    CHECK_EQ_U64(st.inf_count, 2);

    CHECK_STATUS(tt_stats_compute(TT_DTYPE_UNKNOWN, v, 7, &st), TT_E_INVAL);
    CHECK_STATUS(tt_stats_compute((tt_dtype)TT_DTYPE_COUNT, v, 7, &st), TT_E_INVAL);
    CHECK_STATUS(tt_stats_compute(TT_F32, v, 7, NULL), TT_E_INVAL);
    CHECK_STATUS(tt_stats_compute(TT_F32, NULL, 7, &st), TT_E_INVAL);
}

/* Every type, lengths around the block and group sizes, NaN/Inf in some blocks only, misaligned data. */
static void test_stats_random(void)
{
    enum { N = 9000 };
    static const size_t lengths[] = {1, 7, 8, 9, 255, 256, 257, 2047, 2048, 2049, 4100, N};
    float src[N];
    static unsigned char raw[N * 8 + 8];
    for (int i = 0; i < N; i++)
        src[i] = (float)((rng_unit() - 0.3) * 1000.0);
    for (int dt = 1; dt < TT_DTYPE_COUNT; dt++) {
        for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
            size_t n = lengths[li];
            for (int misalign = 0; misalign < 2; misalign++) {
                unsigned char *p = raw + misalign;
                CHECK_STATUS(tt_from_f32((tt_dtype)dt, src, n, p), TT_OK);
                check_stats_against_reference("finite", (tt_dtype)dt, p, n);
            }
        }
        /* Non-finite values in the second block only (the others take the fast path), and in the tail. */
        float with_nan[N];
        memcpy(with_nan, src, sizeof with_nan);
        with_nan[2100] = NAN;
        with_nan[3000] = INFINITY;
        with_nan[N - 1] = -INFINITY;
        CHECK_STATUS(tt_from_f32((tt_dtype)dt, with_nan, N, raw + 1), TT_OK);
        check_stats_against_reference("nonfinite", (tt_dtype)dt, raw + 1, N);
    }
    /* Wide range f32: values up to 1e38 squared stay finite in double. */
    float wide[N];
    for (int i = 0; i < N; i++)
        wide[i] = random_float_in(-140, 127);
    check_stats_against_reference("wide", TT_F32, wide, N);
    /* Every f16 and bf16 pattern at once. */
    uint16_t all16[65536];
    for (uint32_t i = 0; i < 65536; i++)
        all16[i] = (uint16_t)i;
    check_stats_against_reference("all patterns", TT_F16, all16, 65536);
    check_stats_against_reference("all patterns", TT_BF16, all16, 65536);
    uint8_t all8[1024];
    for (uint32_t i = 0; i < 1024; i++)
        all8[i] = (uint8_t)(i * 7);
    for (int dt = 1; dt < TT_DTYPE_COUNT; dt++)
        if (tt_dtype_size((tt_dtype)dt) == 1)
            check_stats_against_reference("all bytes", (tt_dtype)dt, all8, 1024);
    int16_t i16[N];
    int32_t i32[N];
    int64_t i64[N];
    for (int i = 0; i < N; i++) {
        uint64_t r = rng_next();
        i16[i] = (int16_t)(r & 0x7fff) - (int16_t)((r >> 15) & 1) * 16384;
        i32[i] = (int32_t)(uint32_t)(r >> 16);
        i64[i] = (int64_t)r;
    }
    i16[0] = INT16_MIN;
    i32[0] = INT32_MIN;
    i64[0] = INT64_MIN;
    check_stats_against_reference("extremes", TT_I16, i16, N);
    check_stats_against_reference("extremes", TT_I32, i32, N);
    check_stats_against_reference("extremes", TT_I64, i64, N);
}

/* ---- status codes ------------------------------------------------------------------------------------------- */

static void test_status(void)
{
#define TT_X_CHECK(name, value, text)                                                                       \
    CHECK_EQ_STR(tt_strerror(value), text);                                                                 \
    CHECK_EQ_STR(tt_status_name(value), #name);                                                             \
    CHECK_EQ_INT(name, value);
    TT_STATUS_LIST(TT_X_CHECK)
#undef TT_X_CHECK
    static const int unknown[] = {-18, -100, 3, 1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK_EQ_STR(tt_strerror(unknown[i]), "unknown status");
        CHECK_EQ_STR(tt_status_name(unknown[i]), "TT_UNKNOWN_STATUS");
    }
    CHECK_EQ_STR(tt_status_name(TT_FILTERED), "TT_FILTERED");
    CHECK_EQ_STR(tt_status_name(TT_DROPPED), "TT_DROPPED");
    CHECK(strcmp(tt_strerror(TT_FILTERED), "unknown status") != 0);
    CHECK(strcmp(tt_strerror(TT_DROPPED), "unknown status") != 0);
    CHECK_EQ_STR(tt_version(), TT_VERSION_STRING);
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", TT_VERSION_MAJOR, TT_VERSION_MINOR, TT_VERSION_PATCH);
    CHECK_EQ_STR(tt_version(), v);
}

int main(void)
{
    test_names();
    test_bf16();
    test_f16();
    test_fp8();
    test_integers();
    test_bulk();
    test_shapes();
    test_hash();
    test_stats_basic();
    test_stats_random();
    test_status();
    return tt_test_exit();
}
