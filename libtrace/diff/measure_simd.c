/*
 * measure_simd.c — the fast element kernel for f32 and bf16 blocks, with AVX2+FMA when the CPU has them (chosen at
 * run time: the library is built for the baseline ISA) and nothing otherwise (the caller then uses the portable
 * double loop of measure_kernel.c). One pass over a block updates every metric:
 *  - bitwise-equal count and ULP distance from the stored bits: for bf16 in 16-bit lanes, 16 elements at a time
 *    (ordinals by sign-magnitude to two's complement, distance max - min read as unsigned), for f32 in 32-bit lanes;
 *  - in float: |diff| and its max, sum of squared differences (metrics, not verdicts), and the count outside
 *    atol + rtol*|right| against a band around the bound, 2^-20 relative each way: an element whose float decision
 *    could differ from the double one of the portable loop falls in the band and the block is recounted in double;
 *  - in double: sum(x*y) always (for bf16 the products are exact in float unless below 2^-126, so only the sum
 *    is done in double; cmp_acc_use_stats takes no norms small enough for that to matter); sum(x^2) and sum(y^2)
 *    only when the caller has no exact norms from the records' statistics (a->stats == 0).
 * A block whose differences are all below 2^-40 has its sum of squared differences redone in double.
 * bf16 is widened to float by interleaving with zero words: the lane order changes, which sums, counts and maxima
 * do not see; the element of the max |diff| is found by a scalar rescan of the block, only when the block can
 * beat the running max (when every difference of the block is exact in float — all ULP distances within one
 * binade — that is exactly when its float max is larger). A block that holds a NaN or an infinity (or whose float
 * squares overflow) is refused (returns 0): the caller redoes it in double, element by element. So the portable
 * loop and this one agree exactly on counts and maxima, and on sums to rounding.
 */
#include "measure.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(TT_DIFF_NO_SIMD)
#define DIFF_AVX2 1
#include <immintrin.h>
#endif

/* The scalar tail decides "outside" as the portable loop does: atol + rtol*|y| rounded twice, never fused into an
 * FMA (GCC does not contract in ISO C mode; clang would, in functions built for FMA). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

int diff_simd_off;

int diff_simd_available(void);
int diff_simd_block_f32(cmp_acc *a, const float *x, const float *y, size_t n, uint64_t base, double rtol,
                        double atol);
int diff_simd_block_bf16(cmp_acc *a, const uint16_t *x, const uint16_t *y, size_t n, uint64_t base, double rtol,
                         double atol);

#ifdef DIFF_AVX2
int diff_simd_available(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#define TGT __attribute__((target("avx2,fma")))
#define INL __attribute__((target("avx2,fma"), always_inline)) static inline

/* The float band of the tolerance bound: lo <= the double bound <= hi for every |right|, with margin for the
 * float rounding of the bound and of |diff|. Tolerances outside [2^-100, 2^100] (bar 0 for rtol and anything
 * below for atol) are left to the double loop. An atol below 2^-100 (0 included) gets an absolute slack of
 * 2^-100 each way and the low bound is clamped at 0, so that bounds in the subnormal range stay covered. */
typedef struct band {
    float rh, rl, ah, al;
    int tiny;
} band;

static int band_init(band *b, double rtol, double atol)
{
    if (!(rtol == 0 || (rtol >= 0x1p-100 && rtol <= 0x1p100)) || !(atol >= 0 && atol <= 0x1p100))
        return 0;
    b->tiny = atol < 0x1p-100;
    double s = b->tiny ? 0x1p-100 : 0;
    b->rh = (float)(rtol * (1 + 0x1p-20));
    b->rl = (float)(rtol * (1 - 0x1p-20));
    b->ah = (float)(atol * (1 + 0x1p-20) + s);
    b->al = (float)(atol * (1 - 0x1p-20) - s);
    return 1;
}

static inline float load1(const void *p, size_t i, int bf16)
{
    float f;
    if (bf16) {
        uint32_t u = (uint32_t)((const uint16_t *)p)[i] << 16;
        memcpy(&f, &u, 4);
    } else {
        memcpy(&f, (const float *)p + i, 4);
    }
    return f;
}

/* Elements near the bound are re-decided in double so that the count equals the portable loop's exactly. */
static uint64_t recount_near(const void *x, const void *y, size_t n, double rtol, double atol, int bf16)
{
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++) {
        double yv = load1(y, i, bf16), d = (double)load1(x, i, bf16) - yv;
        c += fabs(d) > atol + rtol * fabs(yv);
    }
    return c;
}

/* Running vector state of one block. */
typedef struct kstate {
    __m256 mx, d2a, d2b;
    __m256i ohi, olo;
    __m256d lra, lrb, l2a, l2b, r2a, r2b;
} kstate;

INL double hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

INL uint64_t hsum_epi32(__m256i v)
{
    uint32_t t[8];
    _mm256_storeu_si256((__m256i *)(void *)t, v);
    uint64_t s = 0;
    for (int k = 0; k < 8; k++)
        s += t[k];
    return s;
}

/* How the band counts are done: after the pass, only for a block whose max |diff| exceeds the low bound's
 * absolute part (BAND_AFTER: most blocks of a pair within its tolerance need none), or inline (BAND_INLINE, and
 * BAND_TINY for an atol below 2^-100). The kernel guesses from the previous block; the counts are the same. */
enum { BAND_AFTER, BAND_INLINE, BAND_TINY };

INL void band8(__m256i *ohi, __m256i *olo, __m256 ad, __m256 vy, const band *b, int bandk)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 ay = _mm256_and_ps(vy, absmask);
    __m256 bh = _mm256_fmadd_ps(_mm256_set1_ps(b->rh), ay, _mm256_set1_ps(b->ah));
    __m256 bl = _mm256_fmadd_ps(_mm256_set1_ps(b->rl), ay, _mm256_set1_ps(b->al));
    if (bandk == BAND_TINY)
        bl = _mm256_max_ps(bl, _mm256_setzero_ps());
    *ohi = _mm256_sub_epi32(*ohi, _mm256_castps_si256(_mm256_cmp_ps(ad, bh, _CMP_GT_OQ)));
    *olo = _mm256_sub_epi32(*olo, _mm256_castps_si256(_mm256_cmp_ps(ad, bl, _CMP_GT_OQ)));
}

/* The float part of 8 lanes: max |d|, the band counts (inline), d^2 (into d2). */
INL void float8(kstate *s, __m256 vx, __m256 vy, __m256 *d2, const band *b, int bandk)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 d = _mm256_sub_ps(vx, vy), ad = _mm256_and_ps(d, absmask);
    s->mx = _mm256_max_ps(s->mx, ad);
    if (bandk != BAND_AFTER)
        band8(&s->ohi, &s->olo, ad, vy, b, bandk);
    *d2 = _mm256_fmadd_ps(d, d, *d2);
}

INL __m256 widen_lo(__m256i v)
{
    return _mm256_castsi256_ps(_mm256_unpacklo_epi16(_mm256_setzero_si256(), v));
}

INL __m256 widen_hi(__m256i v)
{
    return _mm256_castsi256_ps(_mm256_unpackhi_epi16(_mm256_setzero_si256(), v));
}

/* The band counts of the first n elements (a multiple of the step), as a second pass over a block in L1. */
INL void band_pass(const void *x, const void *y, size_t n, const band *b, int bf16, uint64_t *ohi, uint64_t *olo)
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256i h = _mm256_setzero_si256(), l = _mm256_setzero_si256();
    if (bf16) {
        const uint16_t *px = x, *py = y;
        for (size_t i = 0; i + 16 <= n; i += 16) {
            __m256i bx = _mm256_loadu_si256((const __m256i *)(const void *)(px + i));
            __m256i by = _mm256_loadu_si256((const __m256i *)(const void *)(py + i));
            __m256 yl = widen_lo(by), yh = widen_hi(by);
            band8(&h, &l, _mm256_and_ps(_mm256_sub_ps(widen_lo(bx), yl), absmask), yl, b, BAND_INLINE);
            band8(&h, &l, _mm256_and_ps(_mm256_sub_ps(widen_hi(bx), yh), absmask), yh, b, BAND_INLINE);
        }
    } else {
        const float *px = x, *py = y;
        for (size_t i = 0; i + 8 <= n; i += 8) {
            __m256 vx = _mm256_loadu_ps(px + i), vy = _mm256_loadu_ps(py + i);
            band8(&h, &l, _mm256_and_ps(_mm256_sub_ps(vx, vy), absmask), vy, b, BAND_INLINE);
        }
    }
    *ohi = hsum_epi32(h);
    *olo = hsum_epi32(l);
}

/* Double sums of 8 lanes from float registers: x*y always, x^2 and y^2 when exact. */
INL void double8(kstate *s, __m256 vx, __m256 vy, int exact, int bf16)
{
    if (!exact && bf16) {
        /* bf16 x bf16 is exact in float (8-bit significands) */
        __m256 p = _mm256_mul_ps(vx, vy);
        s->lra = _mm256_add_pd(s->lra, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
        s->lrb = _mm256_add_pd(s->lrb, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
        return;
    }
    __m256d xl = _mm256_cvtps_pd(_mm256_castps256_ps128(vx)), xh = _mm256_cvtps_pd(_mm256_extractf128_ps(vx, 1));
    __m256d yl = _mm256_cvtps_pd(_mm256_castps256_ps128(vy)), yh = _mm256_cvtps_pd(_mm256_extractf128_ps(vy, 1));
    s->lra = _mm256_fmadd_pd(xl, yl, s->lra);
    s->lrb = _mm256_fmadd_pd(xh, yh, s->lrb);
    if (exact) {
        s->l2a = _mm256_fmadd_pd(xl, xl, s->l2a);
        s->l2b = _mm256_fmadd_pd(xh, xh, s->l2b);
        s->r2a = _mm256_fmadd_pd(yl, yl, s->r2a);
        s->r2b = _mm256_fmadd_pd(yh, yh, s->r2b);
    }
}

/* The same for f32 straight from memory (the conversions take their operand from memory). */
INL void double8_mem(kstate *s, const float *x, const float *y, int exact)
{
    __m256d xl = _mm256_cvtps_pd(_mm_loadu_ps(x)), xh = _mm256_cvtps_pd(_mm_loadu_ps(x + 4));
    __m256d yl = _mm256_cvtps_pd(_mm_loadu_ps(y)), yh = _mm256_cvtps_pd(_mm_loadu_ps(y + 4));
    s->lra = _mm256_fmadd_pd(xl, yl, s->lra);
    s->lrb = _mm256_fmadd_pd(xh, yh, s->lrb);
    if (exact) {
        s->l2a = _mm256_fmadd_pd(xl, xl, s->l2a);
        s->l2b = _mm256_fmadd_pd(xh, xh, s->l2b);
        s->r2a = _mm256_fmadd_pd(yl, yl, s->r2a);
        s->r2b = _mm256_fmadd_pd(yh, yh, s->r2b);
    }
}

/* ordinals of sign-magnitude bits: the magnitude, negated where the sign bit is set (+0 and -0 both 0) */
INL __m256i ordinal16(__m256i bits)
{
    return _mm256_sign_epi16(_mm256_and_si256(bits, _mm256_set1_epi16(0x7fff)), bits);
}

INL __m256i ordinal32(__m256i bits)
{
    return _mm256_sign_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff)), bits);
}

INL int block_body(cmp_acc *a, const void *x, const void *y, size_t n, uint64_t base, double rtol, double atol,
                   const band *b, const int bf16, const int exact, const int bandk)
{
    kstate s;
    s.mx = s.d2a = s.d2b = _mm256_setzero_ps();
    s.ohi = s.olo = _mm256_setzero_si256();
    s.lra = s.lrb = s.l2a = s.l2b = s.r2a = s.r2b = _mm256_setzero_pd();
    __m256i eq = _mm256_setzero_si256(), um = _mm256_setzero_si256();
    size_t i = 0;
    if (bf16) {
        /* 16 elements per step; 16-bit counters hold up to 32767 steps, blocks are far shorter */
        const uint16_t *px = x, *py = y;
        __m256i eq16 = _mm256_setzero_si256();
        for (; i + 16 <= n; i += 16) {
            __m256i bx = _mm256_loadu_si256((const __m256i *)(const void *)(px + i));
            __m256i by = _mm256_loadu_si256((const __m256i *)(const void *)(py + i));
            eq16 = _mm256_sub_epi16(eq16, _mm256_cmpeq_epi16(bx, by));
            __m256i ox = ordinal16(bx), oy = ordinal16(by);
            um = _mm256_max_epu16(um, _mm256_sub_epi16(_mm256_max_epi16(ox, oy), _mm256_min_epi16(ox, oy)));
            __m256 xl = widen_lo(bx), xh = widen_hi(bx), yl = widen_lo(by), yh = widen_hi(by);
            float8(&s, xl, yl, &s.d2a, b, bandk);
            float8(&s, xh, yh, &s.d2b, b, bandk);
            double8(&s, xl, yl, exact, 1);
            double8(&s, xh, yh, exact, 1);
        }
        eq = _mm256_madd_epi16(eq16, _mm256_set1_epi16(1));
    } else {
        const float *px = x, *py = y;
        for (; i + 8 <= n; i += 8) {
            __m256 vx = _mm256_loadu_ps(px + i), vy = _mm256_loadu_ps(py + i);
            __m256i bx = _mm256_castps_si256(vx), by = _mm256_castps_si256(vy);
            eq = _mm256_sub_epi32(eq, _mm256_cmpeq_epi32(bx, by));
            __m256i ox = ordinal32(bx), oy = ordinal32(by);
            um = _mm256_max_epu32(um, _mm256_sub_epi32(_mm256_max_epi32(ox, oy), _mm256_min_epi32(ox, oy)));
            float8(&s, vx, vy, &s.d2a, b, bandk);
            double8_mem(&s, px + i, py + i, exact);
        }
    }
    double slr = hsum_pd(_mm256_add_pd(s.lra, s.lrb)), sl = 0, sr = 0;
    if (exact) {
        sl = hsum_pd(_mm256_add_pd(s.l2a, s.l2b));
        sr = hsum_pd(_mm256_add_pd(s.r2a, s.r2b));
    }
    __m256 d2 = _mm256_add_ps(s.d2a, s.d2b);
    double sd = hsum_pd(_mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(d2)),
                                      _mm256_cvtps_pd(_mm256_extractf128_ps(d2, 1))));
    float mxs[8];
    _mm256_storeu_ps(mxs, s.mx);
    float m = 0;
    for (int k = 0; k < 8; k++)
        m = mxs[k] > m ? mxs[k] : m;
    uint64_t o = 0, olo = 0, e = hsum_epi32(eq);
    if (bandk != BAND_AFTER) {
        o = hsum_epi32(s.ohi);
        olo = hsum_epi32(s.olo);
    } else if (m > b->al) {
        /* the low bound is at least its absolute part al (>= 0 here): below it no element can count */
        band_pass(x, y, i, b, bf16, &o, &olo);
    }
    a->band_inline = m > b->al; /* the guess for the next block */
    uint32_t u = 0; /* max ULP distance in the stored dtype's units */
    if (bf16) {
        uint16_t t[16];
        _mm256_storeu_si256((__m256i *)(void *)t, um);
        for (int k = 0; k < 16; k++)
            u = t[k] > u ? t[k] : u;
    } else {
        uint32_t t[8];
        _mm256_storeu_si256((__m256i *)(void *)t, um);
        for (int k = 0; k < 8; k++)
            u = t[k] > u ? t[k] : u;
    }
    int near = olo != o;
    /* the tail, scalar, in double (its outside count is exact) */
    for (; i < n; i++) {
        float fxv = load1(x, i, bf16), fyv = load1(y, i, bf16);
        double xv = fxv, yv = fyv, dv = xv - yv, adv = fabs(dv);
        sl += xv * xv;
        sr += yv * yv;
        slr += xv * yv;
        sd += dv * dv;
        o += adv > atol + rtol * fabs(yv);
        m = (float)adv > m ? (float)adv : m;
        uint32_t bx, by;
        memcpy(&bx, &fxv, 4);
        memcpy(&by, &fyv, 4);
        e += bx == by;
        if (bf16)
            bx >>= 16, by >>= 16;
        uint32_t sb = bf16 ? 15 : 31;
        int64_t ox = (bx >> sb) ? -(int64_t)(bx & ((1u << sb) - 1)) : (int64_t)bx;
        int64_t oy = (by >> sb) ? -(int64_t)(by & ((1u << sb) - 1)) : (int64_t)by;
        uint32_t ud = (uint32_t)(ox > oy ? ox - oy : oy - ox);
        u = ud > u ? ud : u;
    }
    if (!isfinite(sd) || !isfinite(m) || !isfinite(slr))
        return 0;
    if (m > 0 && m < 0x1p-40f) {
        /* squares of differences this small lose bits in float (2^-126 and below): the block's sum in double */
        sd = 0;
        for (size_t j = 0; j < n; j++) {
            double dv = (double)load1(x, j, bf16) - (double)load1(y, j, bf16);
            sd += dv * dv;
        }
    }
    if (near)
        o = recount_near(x, y, n, rtol, atol, bf16);
    if (exact) {
        a->sum_l2 += sl;
        a->sum_r2 += sr;
    }
    a->sum_lr += slr;
    a->sum_d2 += sd;
    a->outside += o;
    a->diff_elems += n - e;
    a->max_ulp = (double)u > a->max_ulp ? (double)u : a->max_ulp;
    /* Max |diff| in double and its first index: the float max finds the block, the scan finds the element.
     * Within one binade (ULP distance at most 2^23 in f32, 2^7 in bf16) x - y is exact in float (Sterbenz, or
     * both below the smallest normal), so the float max is the double one and a tie cannot win; otherwise the
     * float max may be one rounding below, and the block is scanned when it comes within 2^-20. */
    int exact_d = u <= (bf16 ? 0x80u : 0x800000u);
    if (exact_d ? (double)m > a->max_abs : (double)m * (1 + 0x1p-20) > a->max_abs) {
        double best = -1;
        size_t bi = 0;
        for (size_t j = 0; j < n; j++) {
            double v = fabs((double)load1(x, j, bf16) - (double)load1(y, j, bf16));
            if (v > best) {
                best = v;
                bi = j;
            }
        }
        if (best > a->max_abs) {
            a->max_abs = best;
            a->max_abs_index = base + bi;
            a->max_abs_l = load1(x, bi, bf16);
            a->max_abs_r = load1(y, bi, bf16);
        }
    }
    a->elems += n;
    return 1;
}

/* one instance per dtype, sum mode (norms from the statistics or summed) and band kind */
typedef int kernel_fn(cmp_acc *a, const void *x, const void *y, size_t n, uint64_t base, double rtol, double atol,
                      const band *b);
#define KERNEL(name, bf16, exact, bandk)                                                                           \
    TGT static int name(cmp_acc *a, const void *x, const void *y, size_t n, uint64_t base, double rtol,          \
                        double atol, const band *b)                                                                \
    {                                                                                                              \
        return block_body(a, x, y, n, base, rtol, atol, b, bf16, exact, bandk);                                   \
    }
KERNEL(k_f32_s0, 0, 0, BAND_AFTER)
KERNEL(k_f32_s1, 0, 0, BAND_INLINE)
KERNEL(k_f32_s2, 0, 0, BAND_TINY)
KERNEL(k_f32_e0, 0, 1, BAND_AFTER)
KERNEL(k_f32_e1, 0, 1, BAND_INLINE)
KERNEL(k_f32_e2, 0, 1, BAND_TINY)
KERNEL(k_bf16_s0, 1, 0, BAND_AFTER)
KERNEL(k_bf16_s1, 1, 0, BAND_INLINE)
KERNEL(k_bf16_s2, 1, 0, BAND_TINY)
KERNEL(k_bf16_e0, 1, 1, BAND_AFTER)
KERNEL(k_bf16_e1, 1, 1, BAND_INLINE)
KERNEL(k_bf16_e2, 1, 1, BAND_TINY)

static kernel_fn *const kernels[2][2][3] = {
    {{k_f32_e0, k_f32_e1, k_f32_e2}, {k_f32_s0, k_f32_s1, k_f32_s2}},
    {{k_bf16_e0, k_bf16_e1, k_bf16_e2}, {k_bf16_s0, k_bf16_s1, k_bf16_s2}},
};

static int dispatch(cmp_acc *a, const void *x, const void *y, size_t n, uint64_t base, double rtol, double atol,
                    int bf16)
{
    band b;
    if (diff_simd_off || !band_init(&b, rtol, atol))
        return 0;
    int bandk = b.tiny ? BAND_TINY : a->band_inline ? BAND_INLINE : BAND_AFTER;
    return kernels[bf16][a->stats != 0][bandk](a, x, y, n, base, rtol, atol, &b);
}

int diff_simd_block_f32(cmp_acc *a, const float *x, const float *y, size_t n, uint64_t base, double rtol,
                        double atol)
{
    return dispatch(a, x, y, n, base, rtol, atol, 0);
}

int diff_simd_block_bf16(cmp_acc *a, const uint16_t *x, const uint16_t *y, size_t n, uint64_t base, double rtol,
                         double atol)
{
    return dispatch(a, x, y, n, base, rtol, atol, 1);
}
#else
int diff_simd_available(void)
{
    return 0;
}

int diff_simd_block_f32(cmp_acc *a, const float *x, const float *y, size_t n, uint64_t base, double rtol,
                        double atol)
{
    (void)a, (void)x, (void)y, (void)n, (void)base, (void)rtol, (void)atol;
    return 0;
}

int diff_simd_block_bf16(cmp_acc *a, const uint16_t *x, const uint16_t *y, size_t n, uint64_t base, double rtol,
                         double atol)
{
    (void)a, (void)x, (void)y, (void)n, (void)base, (void)rtol, (void)atol;
    return 0;
}
#endif
