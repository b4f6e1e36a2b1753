/*
 * diff_simd.c — the fast element kernel for float blocks (f32, and bf16/f16 widened to f32), with AVX2+FMA when
 * the CPU has them (chosen at run time: the library is built for the baseline ISA) and nothing otherwise (the
 * caller then uses the portable double loop of diff_metrics.c). One pass over a block updates every metric:
 * differences in float (exact for values within a factor 2, else rounded once: metrics, not verdicts, see
 * below), the count outside atol + rtol*|right| decided in double for the elements near the bound, sums of
 * squares and products in double (cosine needs them), max |diff| per lane, ULP distances from the bits and the
 * count of differing bits. A block that holds a NaN or an infinity is refused (returns 0): the caller redoes it
 * element by element. The portable loop and this one agree exactly on counts and maxima, and on sums to rounding.
 */
#include "diff_impl.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(TT_DIFF_NO_SIMD)
#define DIFF_AVX2 1
#include <immintrin.h>
#endif

int diff_simd_available(void);
int diff_simd_block_f32(cmp_acc *a, const float *x, const float *y, size_t n, uint64_t base, double rtol,
                        double atol, int ulp_shift);
int diff_simd_block_bf16(cmp_acc *a, const uint16_t *x, const uint16_t *y, size_t n, uint64_t base, double rtol,
                         double atol);

#ifdef DIFF_AVX2
int diff_simd_available(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

__attribute__((target("avx2,fma"))) static inline __m256d lo_pd(__m256 v)
{
    return _mm256_cvtps_pd(_mm256_castps256_ps128(v));
}

__attribute__((target("avx2,fma"))) static inline __m256d hi_pd(__m256 v)
{
    return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}

__attribute__((target("avx2,fma"))) static double hsum_pd(__m256d v)
{
    double t[4];
    _mm256_storeu_pd(t, v);
    return (t[0] + t[1]) + (t[2] + t[3]);
}

/* ordinal of float bits: sign-magnitude to two's complement (+0 and -0 both 0) */
__attribute__((target("avx2,fma"))) static inline __m256i ordinal8(__m256i bits)
{
    __m256i s = _mm256_srai_epi32(bits, 31);
    return _mm256_xor_si256(bits, _mm256_and_si256(s, _mm256_set1_epi32(0x7fffffff)));
}

static inline float load1(const void *p, size_t i, int bf16);

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

__attribute__((target("avx2,fma"))) static inline __m256 load8(const void *p, size_t i, int bf16)
{
    if (bf16) /* bf16 is the high half of an f32 */
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)((const uint16_t *)p + i))), 16));
    return _mm256_loadu_ps((const float *)p + i);
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

__attribute__((target("avx2,fma"), always_inline)) static inline int
block_body(cmp_acc *a, const void *x, const void *y, size_t n, uint64_t base, double rtol, double atol, int bf16)
{
    const int ulp_shift = bf16 ? 16 : 0;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    /* float bound, widened by a relative 2^-20 each way: an element whose float decision could differ from the
     * double one falls in the band and sends the block to the exact recount */
    const __m256 vr = _mm256_set1_ps((float)rtol), va = _mm256_set1_ps((float)atol);
    const __m256 hi_k = _mm256_set1_ps(1.0f + 0x1p-20f), lo_k = _mm256_set1_ps(1.0f - 0x1p-20f);
    __m256 mx = _mm256_setzero_ps(), d2 = _mm256_setzero_ps();
    __m256d l2a = _mm256_setzero_pd(), l2b = _mm256_setzero_pd(), r2a = _mm256_setzero_pd();
    __m256d r2b = _mm256_setzero_pd(), lra = _mm256_setzero_pd(), lrb = _mm256_setzero_pd();
    __m256i out = _mm256_setzero_si256(), near = _mm256_setzero_si256(), eq = _mm256_setzero_si256();
    __m256i umax = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 vx = load8(x, i, bf16), vy = load8(y, i, bf16);
        __m256 d = _mm256_sub_ps(vx, vy), ad = _mm256_and_ps(d, absmask);
        __m256 bnd = _mm256_fmadd_ps(vr, _mm256_and_ps(vy, absmask), va);
        __m256 gt_hi = _mm256_cmp_ps(ad, _mm256_mul_ps(bnd, hi_k), _CMP_GT_OQ);
        __m256 gt_lo = _mm256_cmp_ps(ad, _mm256_mul_ps(bnd, lo_k), _CMP_GT_OQ);
        out = _mm256_sub_epi32(out, _mm256_castps_si256(gt_hi));
        near = _mm256_sub_epi32(near, _mm256_castps_si256(_mm256_andnot_ps(gt_hi, gt_lo)));
        mx = _mm256_max_ps(mx, ad);
        d2 = _mm256_fmadd_ps(d, d, d2);
        __m256d xl = lo_pd(vx), xh = hi_pd(vx), yl = lo_pd(vy), yh = hi_pd(vy);
        l2a = _mm256_fmadd_pd(xl, xl, l2a);
        l2b = _mm256_fmadd_pd(xh, xh, l2b);
        r2a = _mm256_fmadd_pd(yl, yl, r2a);
        r2b = _mm256_fmadd_pd(yh, yh, r2b);
        lra = _mm256_fmadd_pd(xl, yl, lra);
        lrb = _mm256_fmadd_pd(xh, yh, lrb);
        __m256i bx = _mm256_castps_si256(vx), by = _mm256_castps_si256(vy);
        eq = _mm256_sub_epi32(eq, _mm256_cmpeq_epi32(bx, by));
        __m256i ox = ordinal8(bx), oy = ordinal8(by);
        __m256i dd = _mm256_sub_epi32(ox, oy), m = _mm256_cmpgt_epi32(oy, ox);
        umax = _mm256_max_epu32(umax, _mm256_sub_epi32(_mm256_xor_si256(dd, m), m));
    }
    double sl = hsum_pd(_mm256_add_pd(l2a, l2b)), sr = hsum_pd(_mm256_add_pd(r2a, r2b));
    double slr = hsum_pd(_mm256_add_pd(lra, lrb));
    float d2s[8], mxs[8];
    uint32_t outs[8], nears[8], eqs[8], ums[8];
    _mm256_storeu_ps(d2s, d2);
    _mm256_storeu_ps(mxs, mx);
    _mm256_storeu_si256((__m256i *)(void *)outs, out);
    _mm256_storeu_si256((__m256i *)(void *)nears, near);
    _mm256_storeu_si256((__m256i *)(void *)eqs, eq);
    _mm256_storeu_si256((__m256i *)(void *)ums, umax);
    double sd = 0;
    float m = 0;
    uint64_t o = 0, nr = 0, e = 0;
    uint32_t um = 0;
    for (int k = 0; k < 8; k++) {
        sd += d2s[k];
        m = mxs[k] > m ? mxs[k] : m;
        o += outs[k];
        nr += nears[k];
        e += eqs[k];
        um = ums[k] > um ? ums[k] : um;
    }
    /* the tail, scalar */
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
        int64_t ox = (bx >> 31) ? -(int64_t)(bx & 0x7fffffffu) : (int64_t)bx;
        int64_t oy = (by >> 31) ? -(int64_t)(by & 0x7fffffffu) : (int64_t)by;
        uint32_t u = (uint32_t)(ox > oy ? ox - oy : oy - ox);
        um = u > um ? u : um;
    }
    if (!isfinite(sl) || !isfinite(sr) || !isfinite(sd) || !isfinite(m))
        return 0;
    if (nr)
        o = recount_near(x, y, n, rtol, atol, bf16);
    a->sum_l2 += sl;
    a->sum_r2 += sr;
    a->sum_lr += slr;
    a->sum_d2 += sd;
    a->outside += o;
    a->diff_elems += n - e;
    double u = (double)(um >> ulp_shift);
    a->max_ulp = u > a->max_ulp ? u : a->max_ulp;
    /* max |diff| in double and its first index: the float max finds the block, the scan finds the element */
    if ((double)m * (1 + 0x1p-20) > a->max_abs) {
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

__attribute__((target("avx2,fma"))) int diff_simd_block_f32(cmp_acc *a, const float *x, const float *y, size_t n,
                                                             uint64_t base, double rtol, double atol, int ulp_shift)
{
    (void)ulp_shift;
    return block_body(a, x, y, n, base, rtol, atol, 0);
}

__attribute__((target("avx2,fma"))) int diff_simd_block_bf16(cmp_acc *a, const uint16_t *x, const uint16_t *y,
                                                              size_t n, uint64_t base, double rtol, double atol)
{
    return block_body(a, x, y, n, base, rtol, atol, 1);
}
#else
int diff_simd_available(void)
{
    return 0;
}

int diff_simd_block_f32(cmp_acc *a, const float *x, const float *y, size_t n, uint64_t base, double rtol,
                        double atol, int ulp_shift)
{
    (void)a, (void)x, (void)y, (void)n, (void)base, (void)rtol, (void)atol, (void)ulp_shift;
    return 0;
}

int diff_simd_block_bf16(cmp_acc *a, const uint16_t *x, const uint16_t *y, size_t n, uint64_t base, double rtol,
                         double atol)
{
    (void)a, (void)x, (void)y, (void)n, (void)base, (void)rtol, (void)atol;
    return 0;
}
#endif
