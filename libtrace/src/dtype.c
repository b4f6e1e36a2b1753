/*
 * dtype.c — element types: the name and size table, exact conversions between every stored encoding and
 * float/double, the content hash and the summary statistics the writer stores with each tensor.
 *
 * Everything here is a pure function of its arguments: no tables are built at run time, nothing is cached, so all
 * of it is safe to call from the writer's worker threads at once. Conversions never depend on the caller's
 * floating-point rounding mode where the result is defined as "round to nearest even": rounding is done on the bit
 * patterns with integer arithmetic. Buffers are little-endian element arrays at any alignment; loads and stores go
 * through memcpy, which compilers turn into plain moves.
 *
 * Statistics are the hot path (every captured tensor, gigabytes per run). They are computed per block of 2048
 * elements: a fast loop (SSE2 on x86-64, a portable loop with the same lanes and order elsewhere, so both give the
 * same bits) assumes every element is finite; a block whose sum of squares comes out non-finite holds a NaN or an
 * infinity and is redone with a loop that classifies each element. One-byte types are counted into a histogram.
 */
#include "tt/dtype.h"

#include <math.h>
#include <string.h>
#include <xxhash.h>

/* Statistics should not depend on the compiler: no fused multiply-adds (GCC leaves them off in ISO C mode). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* SSE2 is part of x86-64, so the loops that use it need no run-time dispatch. DT_NO_SIMD builds the portable
 * loops instead (they compute the same bits; the tests compare the two builds). */
#if defined(__SSE2__) && !defined(DT_NO_SIMD)
#define DT_SSE2 1
#include <emmintrin.h>
#endif

/* ---- byte order and bit patterns ---------------------------------------------------------------------------- */

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__)
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define DT_HOST_BIG_ENDIAN 1
#endif
#endif

static inline uint16_t load_u16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
#ifdef DT_HOST_BIG_ENDIAN
    v = __builtin_bswap16(v);
#endif
    return v;
}

static inline uint32_t load_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#ifdef DT_HOST_BIG_ENDIAN
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t load_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#ifdef DT_HOST_BIG_ENDIAN
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void store_u16(unsigned char *p, uint16_t v)
{
#ifdef DT_HOST_BIG_ENDIAN
    v = __builtin_bswap16(v);
#endif
    memcpy(p, &v, sizeof v);
}

static inline void store_u32(unsigned char *p, uint32_t v)
{
#ifdef DT_HOST_BIG_ENDIAN
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, sizeof v);
}

static inline void store_u64(unsigned char *p, uint64_t v)
{
#ifdef DT_HOST_BIG_ENDIAN
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, sizeof v);
}

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double f64_from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Two's-complement reinterpretation without relying on implementation-defined narrowing conversions. */
static inline int16_t as_i16(uint16_t u)
{
    int16_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline int32_t as_i32(uint32_t u)
{
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline int64_t as_i64(uint64_t u)
{
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* ---- the type table ----------------------------------------------------------------------------------------- */

typedef struct dtype_info {
    const char *name;
    unsigned char size;
    unsigned char is_float;
} dtype_info;

static const dtype_info dtype_table[TT_DTYPE_COUNT] = {
    [TT_DTYPE_UNKNOWN] = {"unknown", 0, 0},
    [TT_F32] = {"f32", 4, 1},
    [TT_F16] = {"f16", 2, 1},
    [TT_BF16] = {"bf16", 2, 1},
    [TT_F64] = {"f64", 8, 1},
    [TT_I8] = {"i8", 1, 0},
    [TT_U8] = {"u8", 1, 0},
    [TT_I16] = {"i16", 2, 0},
    [TT_I32] = {"i32", 4, 0},
    [TT_I64] = {"i64", 8, 0},
    [TT_F8_E4M3] = {"f8_e4m3", 1, 1},
    [TT_F8_E5M2] = {"f8_e5m2", 1, 1},
    [TT_F8_E4M3FNUZ] = {"f8_e4m3fnuz", 1, 1},
    [TT_F8_E5M2FNUZ] = {"f8_e5m2fnuz", 1, 1},
};

/* The spellings other tools use (numpy/torch long names, the OCP "fp8" prefix for the two OCP types). */
static const struct {
    const char *name;
    tt_dtype dt;
} dtype_aliases[] = {
    {"float32", TT_F32}, {"float16", TT_F16}, {"bfloat16", TT_BF16}, {"float64", TT_F64},
    {"int8", TT_I8},     {"uint8", TT_U8},    {"int16", TT_I16},     {"int32", TT_I32},
    {"int64", TT_I64},   {"fp8_e4m3", TT_F8_E4M3}, {"fp8_e5m2", TT_F8_E5M2},
};

/* The table entry of a real element type, or NULL for TT_DTYPE_UNKNOWN and values outside the enum (a dtype
 * read from a file is an arbitrary integer). */
static const dtype_info *dtype_lookup(tt_dtype dt)
{
    int i = (int)dt;
    if (i <= (int)TT_DTYPE_UNKNOWN || i >= TT_DTYPE_COUNT)
        return NULL;
    return &dtype_table[i];
}

size_t tt_dtype_size(tt_dtype dt)
{
    const dtype_info *info = dtype_lookup(dt);
    return info ? info->size : 0;
}

const char *tt_dtype_name(tt_dtype dt)
{
    const dtype_info *info = dtype_lookup(dt);
    return info ? info->name : "unknown";
}

int tt_dtype_from_name(const char *name, tt_dtype *out)
{
    if (!name || !out)
        return TT_E_INVAL;
    for (int i = (int)TT_DTYPE_UNKNOWN + 1; i < TT_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_table[i].name) == 0) {
            *out = (tt_dtype)i;
            return TT_OK;
        }
    }
    for (size_t i = 0; i < sizeof dtype_aliases / sizeof dtype_aliases[0]; i++) {
        if (strcmp(name, dtype_aliases[i].name) == 0) {
            *out = dtype_aliases[i].dt;
            return TT_OK;
        }
    }
    return TT_E_PARSE;
}

int tt_dtype_is_float(tt_dtype dt)
{
    const dtype_info *info = dtype_lookup(dt);
    return info ? info->is_float : 0;
}

/* ---- rounding a float into a narrower binary format --------------------------------------------------------- */

/*
 * Rounds a finite, non-negative f32 (bit pattern a) to nearest, ties to even, in a binary format with mbits
 * fraction bits whose smallest normal exponent is emin (1 - bias), and returns the magnitude code: (biased
 * exponent << mbits) + fraction. A carry out of the fraction lands in the exponent, which is what the encoding
 * wants: the largest subnormal rounds up to the smallest normal, and the largest finite value rounds up to the
 * code after it (infinity in IEEE-like formats; the caller clamps for saturating ones). Inputs of 2^(emax+2) and
 * above return UINT32_MAX, so one comparison with the largest finite code catches every overflow.
 */
static uint32_t round_to_code(uint32_t a, int mbits, int emin, int emax)
{
    int e32 = (int)(a >> 23);
    if (e32 == 0)
        return 0; /* f32 subnormals are below 2^-126: under half the smallest subnormal of f16 and the fp8s */
    int e = e32 - 127;
    if (e > emax + 1)
        return UINT32_MAX;
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    int eq = e > emin ? e : emin; /* subnormal targets keep emin's quantum */
    int shift = 23 - mbits + (eq - e);
    if (shift > 24)
        return 0; /* half a quantum is at least 2^24 units of m, more than m holds */
    uint32_t half = 1u << (shift - 1);
    uint32_t q = m >> shift;
    uint32_t rem = m & ((half << 1) - 1u);
    q += (rem > half || (rem == half && (q & 1u))) ? 1u : 0u;
    return ((uint32_t)(eq - emin) << mbits) + q;
}

/* ---- bf16 and f16 ------------------------------------------------------------------------------------------- */

uint16_t tt_bf16_from_f32(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x0040u); /* NaN: keep sign and top payload, set the quiet bit */
    /* Round to nearest even on the low 16 bits; a carry into the exponent is the correct result, up to inf. */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float tt_f32_from_bf16(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16);
}

/* Branch-free so that loops over it can vectorize: every case is computed and masks select one (compilers turn a
 * ?: chain here back into branches). All f16 values are normal floats, so this is exact even when the caller runs
 * with denormals flushed to zero (which a decoder that multiplies the bits by 2^112 is not). */
static inline float f16_decode(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = h & 0x7fffu;
    uint32_t normal = (em << 13) + 0x38000000u;         /* exponent bias 15 -> 127 */
    uint32_t special = (em << 13) | 0x7f800000u;        /* inf, NaN with its payload */
    uint32_t tiny = f32_bits((float)em * 0x1p-24f);     /* zero and subnormals: em units of 2^-24 */
    uint32_t is_special = 0u - (uint32_t)(em >= 0x7c00u);
    uint32_t is_tiny = 0u - (uint32_t)(em < 0x0400u);
    uint32_t r = (special & is_special) | (tiny & is_tiny) | (normal & ~(is_special | is_tiny));
    return f32_from_bits(r | sign);
}

float tt_f32_from_f16(uint16_t h)
{
    return f16_decode(h);
}

/* Block decoders for the bulk conversions and the statistics. */
#ifdef DT_SSE2
/* f16_decode() on four elements held in 32-bit lanes. */
static inline __m128 f16x4_decode(__m128i h)
{
    __m128i sign = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x8000)), 16);
    __m128i em = _mm_and_si128(h, _mm_set1_epi32(0x7fff));
    __m128i shifted = _mm_slli_epi32(em, 13);
    __m128i normal = _mm_add_epi32(shifted, _mm_set1_epi32(0x38000000));
    __m128i special = _mm_or_si128(shifted, _mm_set1_epi32(0x7f800000));
    __m128i tiny = _mm_castps_si128(_mm_mul_ps(_mm_cvtepi32_ps(em), _mm_set1_ps(0x1p-24f)));
    __m128i is_special = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7bff));
    __m128i is_tiny = _mm_cmplt_epi32(em, _mm_set1_epi32(0x0400));
    __m128i r = _mm_or_si128(_mm_and_si128(special, is_special), _mm_and_si128(tiny, is_tiny));
    r = _mm_or_si128(r, _mm_andnot_si128(_mm_or_si128(is_special, is_tiny), normal));
    return _mm_castsi128_ps(_mm_or_si128(r, sign));
}

static void decode_f16_block(const unsigned char *p, size_t n, float *dst)
{
    const __m128i zero = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * i));
        _mm_storeu_ps(dst + i, f16x4_decode(_mm_unpacklo_epi16(h, zero)));
        _mm_storeu_ps(dst + i + 4, f16x4_decode(_mm_unpackhi_epi16(h, zero)));
    }
    for (; i < n; i++)
        dst[i] = f16_decode(load_u16(p + 2 * i));
}

/* bf16 is the high half of an f32: interleaving zeros below each element widens it. */
static void decode_bf16_block(const unsigned char *p, size_t n, float *dst)
{
    const __m128i zero = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * i));
        _mm_storeu_ps(dst + i, _mm_castsi128_ps(_mm_unpacklo_epi16(zero, h)));
        _mm_storeu_ps(dst + i + 4, _mm_castsi128_ps(_mm_unpackhi_epi16(zero, h)));
    }
    for (; i < n; i++)
        dst[i] = tt_f32_from_bf16(load_u16(p + 2 * i));
}
#else
static void decode_f16_block(const unsigned char *p, size_t n, float *dst)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = f16_decode(load_u16(p + 2 * i));
}

static void decode_bf16_block(const unsigned char *p, size_t n, float *dst)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = tt_f32_from_bf16(load_u16(p + 2 * i));
}
#endif

uint16_t tt_f16_from_f32(float f)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: quiet, keep the top payload bits as F16C hardware does */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    uint32_t code = round_to_code(a, 10, -14, 15);
    if (code > 0x7bffu)
        code = 0x7c00u; /* IEEE round to nearest: past the largest finite value is infinity */
    return (uint16_t)(sign | code);
}

/* ---- fp8 ---------------------------------------------------------------------------------------------------- */

/* One description per fp8 encoding; the coders below are generic over it. Codes are magnitudes (sign clear). */
typedef struct fp8_format {
    int mbits;       /* fraction bits */
    int emin;        /* exponent of the smallest normal: 1 - bias */
    int emax;        /* exponent of the largest finite value */
    uint32_t max;    /* code of the largest finite value */
    uint32_t inf;    /* code of infinity; 0 when the type has none and saturates */
    uint32_t nan_lo; /* OCP types: codes from here up are NaN (either sign) */
    uint8_t fnuz;    /* FNUZ: no negative zero, the only NaN is 0x80 */
    uint8_t nan;     /* the NaN that encoding produces (the sign is added for OCP types) */
} fp8_format;

static const fp8_format fp8_e4m3 = {3, -6, 8, 0x7e, 0, 0x7f, 0, 0x7f};        /* max 448 */
static const fp8_format fp8_e5m2 = {2, -14, 15, 0x7b, 0x7c, 0x7d, 0, 0x7e};   /* max 57344, IEEE-like */
static const fp8_format fp8_e4m3fnuz = {3, -7, 7, 0x7f, 0, 0x80, 1, 0x80};    /* max 240 */
static const fp8_format fp8_e5m2fnuz = {2, -15, 15, 0x7f, 0, 0x80, 1, 0x80};  /* max 57344 */

static const fp8_format *fp8_lookup(tt_dtype dt)
{
    switch (dt) {
    case TT_F8_E4M3: return &fp8_e4m3;
    case TT_F8_E5M2: return &fp8_e5m2;
    case TT_F8_E4M3FNUZ: return &fp8_e4m3fnuz;
    case TT_F8_E5M2FNUZ: return &fp8_e5m2fnuz;
    default: return NULL;
    }
}

static float fp8_decode(uint8_t c, const fp8_format *fmt)
{
    uint32_t sign = (uint32_t)(c & 0x80u) << 24;
    uint32_t mag = c & 0x7fu;
    if (fmt->fnuz ? c == 0x80u : mag >= fmt->nan_lo)
        return f32_from_bits((fmt->fnuz ? 0u : sign) | 0x7fc00000u);
    if (fmt->inf && mag == fmt->inf)
        return f32_from_bits(sign | 0x7f800000u);
    uint32_t e = mag >> fmt->mbits;
    uint32_t m = mag & ((1u << fmt->mbits) - 1u);
    uint32_t bits;
    if (e == 0) {
        float quantum = f32_from_bits((uint32_t)(127 + fmt->emin - fmt->mbits) << 23);
        bits = f32_bits((float)m * quantum); /* exact: m has at most 3 bits */
    } else {
        bits = ((uint32_t)((int)e + fmt->emin - 1 + 127) << 23) | (m << (23 - fmt->mbits));
    }
    return f32_from_bits(sign | bits);
}

static uint8_t fp8_encode(float f, const fp8_format *fmt)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 24) & 0x80u;
    uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u)
        return (uint8_t)(fmt->fnuz ? fmt->nan : (sign | fmt->nan));
    uint32_t code = round_to_code(a, fmt->mbits, fmt->emin, fmt->emax);
    if (code > fmt->max) /* also +-inf: infinity where the type has one, else saturate */
        return (uint8_t)(sign | (fmt->inf ? fmt->inf : fmt->max));
    if (code == 0 && fmt->fnuz)
        return 0; /* 0x80 is NaN, so negative values that round to zero become +0 */
    return (uint8_t)(sign | code);
}

/* ---- integers ----------------------------------------------------------------------------------------------- */

/* Round half to even independent of the current rounding mode, which belongs to the caller. */
static float round_half_even(float f)
{
    if (!(fabsf(f) < 0x1p23f))
        return f; /* already an integer, or inf */
    float t = truncf(f);
    float d = fabsf(f - t); /* exact: f and t share their exponent or t is 0 */
    float up = f < 0 ? -1.0f : 1.0f;
    if (d > 0.5f || (d == 0.5f && fmodf(t, 2.0f) != 0.0f))
        return t + up; /* exact below 2^23 */
    return t;
}

static int64_t f32_to_int_sat(float f, int64_t lo, int64_t hi)
{
    if (f != f)
        return 0;
    double r = round_half_even(f);
    if (r <= (double)lo)
        return lo;
    if (r >= (double)hi) /* (double)INT64_MAX is 2^63, so this is also the exact test for i64 */
        return hi;
    return (int64_t)r;
}

/* ---- bulk conversions --------------------------------------------------------------------------------------- */

/* Decodes n elements to float; every type but f64, i32 and i64 converts exactly. dt must be a real type. */
static void decode_to_f32(tt_dtype dt, const unsigned char *p, size_t n, float *dst)
{
    const fp8_format *fmt = fp8_lookup(dt);
    size_t i;
    switch (dt) {
    case TT_F32:
        for (i = 0; i < n; i++)
            dst[i] = f32_from_bits(load_u32(p + 4 * i));
        break;
    case TT_F16:
        decode_f16_block(p, n, dst);
        break;
    case TT_BF16:
        decode_bf16_block(p, n, dst);
        break;
    case TT_F64:
        for (i = 0; i < n; i++)
            dst[i] = (float)f64_from_bits(load_u64(p + 8 * i));
        break;
    case TT_I8:
        for (i = 0; i < n; i++)
            dst[i] = (float)(p[i] >= 128 ? (int)p[i] - 256 : (int)p[i]);
        break;
    case TT_U8:
        for (i = 0; i < n; i++)
            dst[i] = (float)p[i];
        break;
    case TT_I16:
        for (i = 0; i < n; i++)
            dst[i] = (float)as_i16(load_u16(p + 2 * i));
        break;
    case TT_I32:
        for (i = 0; i < n; i++)
            dst[i] = (float)as_i32(load_u32(p + 4 * i));
        break;
    case TT_I64:
        for (i = 0; i < n; i++)
            dst[i] = (float)as_i64(load_u64(p + 8 * i));
        break;
    default:
        for (i = 0; i < n; i++)
            dst[i] = fp8_decode(p[i], fmt);
        break;
    }
}

/* Decodes n elements to double, exactly for every type. dt must be a real type. */
static void decode_to_f64(tt_dtype dt, const unsigned char *p, size_t n, double *dst)
{
    size_t i;
    switch (dt) {
    case TT_F64:
        for (i = 0; i < n; i++)
            dst[i] = f64_from_bits(load_u64(p + 8 * i));
        break;
    case TT_I32:
        for (i = 0; i < n; i++)
            dst[i] = (double)as_i32(load_u32(p + 4 * i));
        break;
    case TT_I64:
        for (i = 0; i < n; i++)
            dst[i] = (double)as_i64(load_u64(p + 8 * i));
        break;
    default: {
        /* The rest convert to float exactly; go through a small buffer to reuse those decoders. */
        size_t esize = tt_dtype_size(dt);
        float buf[256];
        for (i = 0; i < n; i += 256) {
            size_t k = n - i < 256 ? n - i : 256;
            decode_to_f32(dt, p + i * esize, k, buf);
            for (size_t j = 0; j < k; j++)
                dst[i + j] = buf[j];
        }
        break;
    }
    }
}

int tt_to_f64(tt_dtype dt, const void *src, size_t n, double *dst)
{
    if (!dtype_lookup(dt) || (n && (!src || !dst)))
        return TT_E_INVAL;
    decode_to_f64(dt, src, n, dst);
    return TT_OK;
}

int tt_to_f32(tt_dtype dt, const void *src, size_t n, float *dst)
{
    if (!dtype_lookup(dt) || (n && (!src || !dst)))
        return TT_E_INVAL;
    decode_to_f32(dt, src, n, dst);
    return TT_OK;
}

static void encode_ints(tt_dtype dt, const float *src, size_t n, unsigned char *p)
{
    size_t i;
    switch (dt) {
    case TT_I8:
        for (i = 0; i < n; i++)
            p[i] = (unsigned char)(f32_to_int_sat(src[i], INT8_MIN, INT8_MAX) & 0xff);
        break;
    case TT_U8:
        for (i = 0; i < n; i++)
            p[i] = (unsigned char)f32_to_int_sat(src[i], 0, UINT8_MAX);
        break;
    case TT_I16:
        for (i = 0; i < n; i++)
            store_u16(p + 2 * i, (uint16_t)f32_to_int_sat(src[i], INT16_MIN, INT16_MAX));
        break;
    case TT_I32:
        for (i = 0; i < n; i++)
            store_u32(p + 4 * i, (uint32_t)f32_to_int_sat(src[i], INT32_MIN, INT32_MAX));
        break;
    default:
        for (i = 0; i < n; i++)
            store_u64(p + 8 * i, (uint64_t)f32_to_int_sat(src[i], INT64_MIN, INT64_MAX));
        break;
    }
}

int tt_from_f32(tt_dtype dt, const float *src, size_t n, void *dst)
{
    if (!dtype_lookup(dt) || (n && (!src || !dst)))
        return TT_E_INVAL;
    unsigned char *p = dst;
    const fp8_format *fmt = fp8_lookup(dt);
    size_t i;
    switch (dt) {
    case TT_F32:
        for (i = 0; i < n; i++)
            store_u32(p + 4 * i, f32_bits(src[i]));
        break;
    case TT_F16:
        for (i = 0; i < n; i++)
            store_u16(p + 2 * i, tt_f16_from_f32(src[i]));
        break;
    case TT_BF16:
        for (i = 0; i < n; i++)
            store_u16(p + 2 * i, tt_bf16_from_f32(src[i]));
        break;
    case TT_F64:
        for (i = 0; i < n; i++)
            store_u64(p + 8 * i, f64_bits((double)src[i]));
        break;
    case TT_I8:
    case TT_U8:
    case TT_I16:
    case TT_I32:
    case TT_I64:
        encode_ints(dt, src, n, p);
        break;
    default:
        for (i = 0; i < n; i++)
            p[i] = fp8_encode(src[i], fmt);
        break;
    }
    return TT_OK;
}

/* ---- hash --------------------------------------------------------------------------------------------------- */

uint64_t tt_hash(const void *data, size_t nbytes)
{
    return (uint64_t)XXH3_64bits(data, nbytes);
}

/* ---- statistics --------------------------------------------------------------------------------------------- */

#define STATS_LANES 8    /* independent accumulators of the f64 loop: they fill vector registers, hide latency */
#define STATS_BLOCK 2048 /* elements per block: the decoded block stays in L1, a redo is cheap */

typedef struct stats_acc {
    double min, max, sum, sumsq;
    uint64_t finite, nan, inf;
} stats_acc;

static void acc_init(stats_acc *a)
{
    a->min = INFINITY;
    a->max = -INFINITY;
    a->sum = 0;
    a->sumsq = 0;
    a->finite = a->nan = a->inf = 0;
}

static void acc_add_finite(stats_acc *a, double mn, double mx, double sum, double sumsq, uint64_t count)
{
    a->min = mn < a->min ? mn : a->min;
    a->max = mx > a->max ? mx : a->max;
    a->sum += sum;
    a->sumsq += sumsq;
    a->finite += count;
}

/* The element-by-element path, for blocks that hold a NaN or an infinity. */
static void acc_classify(stats_acc *a, double v)
{
    if (isnan(v)) {
        a->nan++;
    } else if (isinf(v)) {
        a->inf++;
    } else {
        acc_add_finite(a, v, v, v, v * v, 1);
    }
}

/*
 * The float kernels (f32, f16, bf16). A block first goes through a fast loop that assumes every element is finite.
 * It takes groups of 8 elements x0..x7 into 4 lanes: lane k combines x[k] and x[k+4] first (min, max, and the
 * sum and the sum of squares of the pair in double), then folds the result into its accumulator. That keeps the
 * dependency chains short and the accumulators few enough to stay in registers. min and max stay in float, which
 * is exact. A block's remainder goes to lane 0 and the lanes are reduced in order; the SSE2 loop and the portable
 * loop follow exactly this order, so every build computes the same bits.
 */
#define STATS_GROUP 8

typedef struct float_lanes {
    float mn[4], mx[4];
    double s[4], q[4];
} float_lanes;

static void lanes_init(float_lanes *l)
{
    for (int k = 0; k < 4; k++) {
        l->mn[k] = INFINITY;
        l->mx[k] = -INFINITY;
        l->s[k] = 0;
        l->q[k] = 0;
    }
}

/* a < b ? a : b is exactly what minps computes, NaN and signed zeros included (and likewise for max). */
static inline float min_f(float a, float b)
{
    return a < b ? a : b;
}

static inline float max_f(float a, float b)
{
    return a > b ? a : b;
}

/* One element of a block's remainder into lane 0. */
static inline void lane_add_one(float_lanes *l, float a)
{
    double da = a;
    l->mn[0] = min_f(a, l->mn[0]);
    l->mx[0] = max_f(a, l->mx[0]);
    l->s[0] += da;
    l->q[0] += da * da;
}

#ifdef DT_SSE2
/* Compilers vectorize the portable loops below only sometimes (and differently for each element type), which is
 * why the hot path is spelled out. */

typedef struct simd_lanes {
    __m128 mn, mx;
    __m128d s[2], q[2];
} simd_lanes;

static inline void simd_load(simd_lanes *v, const float_lanes *l)
{
    v->mn = _mm_loadu_ps(l->mn);
    v->mx = _mm_loadu_ps(l->mx);
    for (int h = 0; h < 2; h++) {
        v->s[h] = _mm_loadu_pd(l->s + 2 * h);
        v->q[h] = _mm_loadu_pd(l->q + 2 * h);
    }
}

static inline void simd_store(const simd_lanes *v, float_lanes *l)
{
    _mm_storeu_ps(l->mn, v->mn);
    _mm_storeu_ps(l->mx, v->mx);
    for (int h = 0; h < 2; h++) {
        _mm_storeu_pd(l->s + 2 * h, v->s[h]);
        _mm_storeu_pd(l->q + 2 * h, v->q[h]);
    }
}

/* One group: a holds x0..x3, b holds x4..x7. */
static inline void simd_step(simd_lanes *v, __m128 a, __m128 b)
{
    __m128d a01 = _mm_cvtps_pd(a), a23 = _mm_cvtps_pd(_mm_movehl_ps(a, a));
    __m128d b01 = _mm_cvtps_pd(b), b23 = _mm_cvtps_pd(_mm_movehl_ps(b, b));
    v->mn = _mm_min_ps(_mm_min_ps(a, b), v->mn);
    v->mx = _mm_max_ps(_mm_max_ps(a, b), v->mx);
    v->s[0] = _mm_add_pd(v->s[0], _mm_add_pd(a01, b01));
    v->s[1] = _mm_add_pd(v->s[1], _mm_add_pd(a23, b23));
    v->q[0] = _mm_add_pd(v->q[0], _mm_add_pd(_mm_mul_pd(a01, a01), _mm_mul_pd(b01, b01)));
    v->q[1] = _mm_add_pd(v->q[1], _mm_add_pd(_mm_mul_pd(a23, a23), _mm_mul_pd(b23, b23)));
}

/* Whole groups of f32 elements; returns how many elements were consumed. */
static size_t lanes_f32(const unsigned char *p, size_t n, float_lanes *l)
{
    simd_lanes v;
    size_t i = 0;
    simd_load(&v, l);
    for (; i + STATS_GROUP <= n; i += STATS_GROUP) {
        const void *e = p + 4 * i;
        simd_step(&v, _mm_loadu_ps((const float *)e), _mm_loadu_ps((const float *)e + 4));
    }
    simd_store(&v, l);
    return i;
}

/* bf16 is the high half of an f32: interleaving zeros below each element widens it. */
static size_t lanes_bf16(const unsigned char *p, size_t n, float_lanes *l)
{
    simd_lanes v;
    const __m128i zero = _mm_setzero_si128();
    size_t i = 0;
    simd_load(&v, l);
    for (; i + STATS_GROUP <= n; i += STATS_GROUP) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * i));
        simd_step(&v, _mm_castsi128_ps(_mm_unpacklo_epi16(zero, h)), _mm_castsi128_ps(_mm_unpackhi_epi16(zero, h)));
    }
    simd_store(&v, l);
    return i;
}

#else /* portable loops, same lanes and order as the SSE2 ones */

/* One pair (x[k], x[k+4]) of a group into lane k. */
static inline void lane_add_pair(float_lanes *l, int k, float a, float b)
{
    double da = a, db = b;
    l->mn[k] = min_f(min_f(a, b), l->mn[k]);
    l->mx[k] = max_f(max_f(a, b), l->mx[k]);
    l->s[k] += da + db;
    l->q[k] += da * da + db * db;
}

static size_t lanes_f32(const unsigned char *p, size_t n, float_lanes *l)
{
    size_t i = 0;
    for (; i + STATS_GROUP <= n; i += STATS_GROUP)
        for (int k = 0; k < 4; k++)
            lane_add_pair(l, k, f32_from_bits(load_u32(p + 4 * (i + (size_t)k))),
                          f32_from_bits(load_u32(p + 4 * (i + 4 + (size_t)k))));
    return i;
}

static size_t lanes_bf16(const unsigned char *p, size_t n, float_lanes *l)
{
    size_t i = 0;
    for (; i + STATS_GROUP <= n; i += STATS_GROUP)
        for (int k = 0; k < 4; k++)
            lane_add_pair(l, k, f32_from_bits((uint32_t)load_u16(p + 2 * (i + (size_t)k)) << 16),
                          f32_from_bits((uint32_t)load_u16(p + 2 * (i + 4 + (size_t)k)) << 16));
    return i;
}

#endif

/*
 * The fast path over one block of f32 or bf16 (dt) elements. Returns 0, touching nothing, when the block's
 * sum of squares is not finite: squares of finite floats are below 2^256 and a block's sum of them cannot overflow
 * a double, so only a NaN or an infinity in the block can cause it.
 */
static int block_float_fast(tt_dtype dt, const unsigned char *p, size_t n, stats_acc *acc)
{
    float_lanes l;
    lanes_init(&l);
    size_t i = dt == TT_BF16 ? lanes_bf16(p, n, &l) : lanes_f32(p, n, &l);
    for (; i < n; i++)
        lane_add_one(&l, dt == TT_BF16 ? f32_from_bits((uint32_t)load_u16(p + 2 * i) << 16)
                                       : f32_from_bits(load_u32(p + 4 * i)));
    for (int k = 1; k < 4; k++) {
        l.mn[0] = min_f(l.mn[k], l.mn[0]);
        l.mx[0] = max_f(l.mx[k], l.mx[0]);
        l.s[0] += l.s[k];
        l.q[0] += l.q[k];
    }
    if (!isfinite(l.q[0]))
        return 0;
    acc_add_finite(acc, l.mn[0], l.mx[0], l.s[0], l.q[0], n);
    return 1;
}

/*
 * The slow path for a float block that holds a NaN or an infinity. Still branch-free and in four lanes, because a
 * diverging model can put NaNs in every block of every tensor, and that is when people trace: non-finite elements
 * are counted and replaced by values that leave each accumulator unchanged (+inf for min, -inf for max, 0 for
 * the sums).
 */
static inline void lane_add_classified(float_lanes *l, int k, float v, uint64_t *nan, uint64_t *inf)
{
    uint32_t a = f32_bits(v) & 0x7fffffffu;
    int special = a >= 0x7f800000u;
    double d = special ? 0.0 : (double)v;
    *nan += a > 0x7f800000u;
    *inf += a == 0x7f800000u;
    l->mn[k] = min_f(special ? INFINITY : v, l->mn[k]);
    l->mx[k] = max_f(special ? -INFINITY : v, l->mx[k]);
    l->s[k] += d;
    l->q[k] += d * d;
}

#ifdef DT_SSE2
/* lane_add_classified() on four elements, lane k taking element k. Counts accumulate as -1 per hit. */
static size_t classify_lanes(const float *x, size_t n, float_lanes *l, uint64_t *nan, uint64_t *inf)
{
    simd_lanes v;
    const __m128i abs_mask = _mm_set1_epi32(0x7fffffff), inf_bits = _mm_set1_epi32(0x7f800000);
    const __m128 pos_inf = _mm_castsi128_ps(inf_bits), neg_inf = _mm_set1_ps(-INFINITY);
    __m128i nan_neg = _mm_setzero_si128(), inf_neg = _mm_setzero_si128();
    size_t i = 0;
    simd_load(&v, l);
    for (; i + 4 <= n; i += 4) {
        __m128 e = _mm_loadu_ps(x + i);
        __m128i a = _mm_and_si128(_mm_castps_si128(e), abs_mask);
        __m128i is_nan = _mm_cmpgt_epi32(a, inf_bits);
        __m128i is_inf = _mm_cmpeq_epi32(a, inf_bits);
        __m128 special = _mm_castsi128_ps(_mm_or_si128(is_nan, is_inf));
        __m128 fv = _mm_andnot_ps(special, e);
        __m128d lo = _mm_cvtps_pd(fv), hi = _mm_cvtps_pd(_mm_movehl_ps(fv, fv));
        nan_neg = _mm_add_epi32(nan_neg, is_nan);
        inf_neg = _mm_add_epi32(inf_neg, is_inf);
        v.mn = _mm_min_ps(_mm_or_ps(_mm_and_ps(special, pos_inf), fv), v.mn);
        v.mx = _mm_max_ps(_mm_or_ps(_mm_and_ps(special, neg_inf), fv), v.mx);
        v.s[0] = _mm_add_pd(v.s[0], lo);
        v.s[1] = _mm_add_pd(v.s[1], hi);
        v.q[0] = _mm_add_pd(v.q[0], _mm_mul_pd(lo, lo));
        v.q[1] = _mm_add_pd(v.q[1], _mm_mul_pd(hi, hi));
    }
    simd_store(&v, l);
    int32_t counts[8];
    _mm_storeu_si128((__m128i *)(void *)counts, nan_neg);
    _mm_storeu_si128((__m128i *)(void *)(counts + 4), inf_neg);
    for (int k = 0; k < 4; k++) {
        *nan += (uint64_t)-(int64_t)counts[k];
        *inf += (uint64_t)-(int64_t)counts[k + 4];
    }
    return i;
}
#else
static size_t classify_lanes(const float *x, size_t n, float_lanes *l, uint64_t *nan, uint64_t *inf)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            lane_add_classified(l, k, x[i + (size_t)k], nan, inf);
    return i;
}
#endif

/* Returns how many elements were NaN or infinite. */
static uint64_t block_float_classify(const float *x, size_t n, stats_acc *acc)
{
    float_lanes l;
    uint64_t nan = 0, inf = 0;
    lanes_init(&l);
    size_t i = classify_lanes(x, n, &l, &nan, &inf);
    for (; i < n; i++)
        lane_add_classified(&l, 0, x[i], &nan, &inf);
    for (int k = 1; k < 4; k++) {
        l.mn[0] = min_f(l.mn[k], l.mn[0]);
        l.mx[0] = max_f(l.mx[k], l.mx[0]);
        l.s[0] += l.s[k];
        l.q[0] += l.q[k];
    }
    acc->nan += nan;
    acc->inf += inf;
    if (n - nan - inf)
        acc_add_finite(acc, l.mn[0], l.mx[0], l.s[0], l.q[0], n - nan - inf);
    return nan + inf;
}

/*
 * f32, f16, bf16 block by block. f32 and bf16 are read in place; f16 is decoded into a float block first (fusing
 * its decoder into the loop measured no faster). A block the fast path rejects is decoded and classified, and
 * so are the blocks after it for as long as they hold non-finite values too (a NaN rarely comes alone), which
 * saves running the fast path in vain over a tensor full of them.
 */
static void stats_floats(tt_dtype dt, const unsigned char *p, size_t n, stats_acc *acc)
{
    size_t esize = tt_dtype_size(dt);
    float buf[STATS_BLOCK];
    int classify = 0;
    for (size_t i = 0; i < n; i += STATS_BLOCK) {
        size_t k = n - i < STATS_BLOCK ? n - i : STATS_BLOCK;
        const unsigned char *b = p + i * esize;
        const unsigned char *fast_src = b;
        tt_dtype fast_dt = dt;
        if (dt == TT_F16) {
            decode_f16_block(b, k, buf);
            fast_src = (const unsigned char *)buf;
            fast_dt = TT_F32;
        }
        if (classify || !block_float_fast(fast_dt, fast_src, k, acc)) {
            if (dt != TT_F16)
                decode_to_f32(dt, b, k, buf);
            classify = block_float_classify(buf, k, acc) != 0;
        }
    }
}

/* As block_float_fast() for doubles, in plain C: this loop has no conversions, and compilers keep its lanes in
 * registers. A finite block may also fail here (squares above 2^1024); the classifying path then computes the
 * same, inevitably infinite, sum of squares. */
static int block_f64_fast(const double *x, size_t n, stats_acc *acc)
{
    double mn[STATS_LANES], mx[STATS_LANES], s[STATS_LANES], q[STATS_LANES];
    size_t i = 0;
    for (int j = 0; j < STATS_LANES; j++) {
        mn[j] = INFINITY;
        mx[j] = -INFINITY;
        s[j] = 0;
        q[j] = 0;
    }
    for (; i + STATS_LANES <= n; i += STATS_LANES) {
        for (int j = 0; j < STATS_LANES; j++) {
            double v = x[i + j];
            mn[j] = v < mn[j] ? v : mn[j];
            mx[j] = v > mx[j] ? v : mx[j];
            s[j] += v;
            q[j] += v * v;
        }
    }
    for (; i < n; i++) {
        double v = x[i];
        mn[0] = v < mn[0] ? v : mn[0];
        mx[0] = v > mx[0] ? v : mx[0];
        s[0] += v;
        q[0] += v * v;
    }
    for (int j = 1; j < STATS_LANES; j++) {
        mn[0] = mn[j] < mn[0] ? mn[j] : mn[0];
        mx[0] = mx[j] > mx[0] ? mx[j] : mx[0];
        s[0] += s[j];
        q[0] += q[j];
    }
    if (!isfinite(q[0]))
        return 0;
    acc_add_finite(acc, mn[0], mx[0], s[0], q[0], n);
    return 1;
}

/* f64 and the wider integers: decoded block by block into doubles. */
static void stats_doubles(tt_dtype dt, const unsigned char *p, size_t n, stats_acc *acc)
{
    size_t esize = tt_dtype_size(dt);
    double buf[STATS_BLOCK];
    for (size_t i = 0; i < n; i += STATS_BLOCK) {
        size_t k = n - i < STATS_BLOCK ? n - i : STATS_BLOCK;
        decode_to_f64(dt, p + i * esize, k, buf);
        if (!block_f64_fast(buf, k, acc))
            for (size_t j = 0; j < k; j++)
                acc_classify(acc, buf[j]);
    }
}

/*
 * One-byte types (i8, u8, fp8): a histogram of the 256 codes, then the statistics from the 256 decoded values.
 * Counting costs about one increment per element whatever the type, and the sums come out more accurate than
 * element-wise accumulation. Four interleaved histograms keep runs of one value (all-zero tensors) from
 * serializing on a single counter.
 */
static void stats_bytes(tt_dtype dt, const unsigned char *p, size_t n, stats_acc *acc)
{
    uint64_t hist[4][256];
    unsigned char codes[256];
    double value[256];
    size_t i = 0;
    memset(hist, 0, sizeof hist);
    for (; i + 4 <= n; i += 4) {
        hist[0][p[i]]++;
        hist[1][p[i + 1]]++;
        hist[2][p[i + 2]]++;
        hist[3][p[i + 3]]++;
    }
    for (; i < n; i++)
        hist[0][p[i]]++;
    for (int c = 0; c < 256; c++)
        codes[c] = (unsigned char)c;
    decode_to_f64(dt, codes, 256, value);
    for (int c = 0; c < 256; c++) {
        uint64_t count = hist[0][c] + hist[1][c] + hist[2][c] + hist[3][c];
        double v = value[c];
        if (!count)
            continue;
        if (isnan(v))
            acc->nan += count;
        else if (isinf(v))
            acc->inf += count;
        else
            acc_add_finite(acc, v, v, (double)count * v, (double)count * v * v, count);
    }
}

static void acc_finish(const stats_acc *a, tt_stats *out)
{
    out->nan_count = a->nan;
    out->inf_count = a->inf;
    if (a->finite == 0) {
        out->min = out->max = out->mean = out->absmax = out->l2 = NAN;
        return;
    }
    out->min = a->min;
    out->max = a->max;
    out->mean = a->sum / (double)a->finite;
    out->absmax = fmax(fabs(a->min), fabs(a->max));
    out->l2 = sqrt(a->sumsq);
}

int tt_stats_compute(tt_dtype dt, const void *data, size_t n, tt_stats *out)
{
    if (!dtype_lookup(dt) || !out || (n && !data))
        return TT_E_INVAL;
    stats_acc acc;
    acc_init(&acc);
    switch (dt) {
    case TT_F32:
    case TT_F16:
    case TT_BF16:
        stats_floats(dt, data, n, &acc);
        break;
    case TT_F64:
    case TT_I16:
    case TT_I32:
    case TT_I64:
        stats_doubles(dt, data, n, &acc);
        break;
    default:
        /* Below a few hundred elements clearing and scanning the histograms costs more than it saves. */
        if (n < 256)
            stats_doubles(dt, data, n, &acc);
        else
            stats_bytes(dt, data, n, &acc);
        break;
    }
    acc_finish(&acc, out);
    return TT_OK;
}

/* ---- shapes ------------------------------------------------------------------------------------------------- */

#define SHAPE_LIMIT ((uint64_t)1 << 62)

int tt_shape_elems(int ndim, const uint64_t *shape, size_t esize, uint64_t *elems, uint64_t *nbytes)
{
    if (ndim < 0 || ndim > TT_MAX_DIMS || (ndim > 0 && !shape))
        return TT_E_INVAL;
    /* Every dimension is bounded even when another is 0: an empty tensor with a 2^64-1 dimension is still a
     * corrupt shape, and callers that walk the dimensions (strides) must not see one. */
    int empty = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] >= SHAPE_LIMIT)
            return TT_E_LIMIT;
        empty |= shape[i] == 0;
    }
    uint64_t count = 1;
    if (empty) {
        count = 0;
    } else {
        for (int i = 0; i < ndim; i++) {
            if (count > (SHAPE_LIMIT - 1) / shape[i])
                return TT_E_LIMIT;
            count *= shape[i];
        }
    }
    if (esize && count > (SHAPE_LIMIT - 1) / esize)
        return TT_E_LIMIT;
    if (elems)
        *elems = count;
    if (nbytes)
        *nbytes = count * esize;
    return TT_OK;
}
