/*
 * shuffle.c — the byte-shuffle filter: bytes of equal significance of consecutive elements are grouped, so
 * that the slowly varying high bytes of floating-point activations (sign and exponent) form long compressible
 * runs, apart from the noisy low mantissa bytes.
 *
 * Sizes 2 and 4 (bf16/f16, f32) are done 16 elements at a time with SSE2, part of every x86-64: shuffling
 * separates even and odd bytes with a mask, a shift and a saturating pack (twice for 4-byte elements);
 * unshuffling interleaves the byte planes back with unpack instructions. Other sizes, the tail of fewer than 16
 * elements and non-x86 hosts use the plain loops, which define the result.
 */
#include "frame.h"

#include <string.h>

#if defined(__SSE2__) && !defined(TT_NO_SIMD)
#include <emmintrin.h>
#define SHUFFLE_SSE2 1
#endif

static void shuffle_scalar(const uint8_t *src, uint8_t *dst, size_t count, size_t esize, size_t from)
{
    for (size_t j = 0; j < esize; j++) {
        uint8_t *d = dst + j * count;
        for (size_t i = from; i < count; i++)
            d[i] = src[i * esize + j];
    }
}

static void unshuffle_scalar(const uint8_t *src, uint8_t *dst, size_t count, size_t esize, size_t from)
{
    for (size_t j = 0; j < esize; j++) {
        const uint8_t *s = src + j * count;
        for (size_t i = from; i < count; i++)
            dst[i * esize + j] = s[i];
    }
}

#ifdef SHUFFLE_SSE2
#define LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STORE(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))

/* Even bytes of a and b (the low byte of each 16-bit lane), then odd bytes: a deinterleave in 4 instructions. */
static inline __m128i even_bytes(__m128i a, __m128i b)
{
    const __m128i m = _mm_set1_epi16(0x00ff);
    return _mm_packus_epi16(_mm_and_si128(a, m), _mm_and_si128(b, m));
}

static inline __m128i odd_bytes(__m128i a, __m128i b)
{
    return _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8));
}

/* Each function handles whole blocks of 16 elements and returns how many elements it did. */
static size_t shuffle2_sse2(const uint8_t *src, uint8_t *dst, size_t count)
{
    size_t done = count & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i x0 = LOAD(src + 2 * i), x1 = LOAD(src + 2 * i + 16);
        STORE(dst + i, even_bytes(x0, x1));
        STORE(dst + count + i, odd_bytes(x0, x1));
    }
    return done;
}

static size_t unshuffle2_sse2(const uint8_t *src, uint8_t *dst, size_t count)
{
    size_t done = count & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i a = LOAD(src + i), b = LOAD(src + count + i);
        STORE(dst + 2 * i, _mm_unpacklo_epi8(a, b));
        STORE(dst + 2 * i + 16, _mm_unpackhi_epi8(a, b));
    }
    return done;
}

static size_t shuffle4_sse2(const uint8_t *src, uint8_t *dst, size_t count)
{
    size_t done = count & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        const uint8_t *s = src + 4 * i;
        __m128i x0 = LOAD(s), x1 = LOAD(s + 16), x2 = LOAD(s + 32), x3 = LOAD(s + 48);
        /* bytes 0 and 2, then 1 and 3, of elements 0..7 and 8..15 */
        __m128i e01 = even_bytes(x0, x1), e23 = even_bytes(x2, x3);
        __m128i o01 = odd_bytes(x0, x1), o23 = odd_bytes(x2, x3);
        STORE(dst + i, even_bytes(e01, e23));
        STORE(dst + count + i, even_bytes(o01, o23));
        STORE(dst + 2 * count + i, odd_bytes(e01, e23));
        STORE(dst + 3 * count + i, odd_bytes(o01, o23));
    }
    return done;
}

static size_t unshuffle4_sse2(const uint8_t *src, uint8_t *dst, size_t count)
{
    size_t done = count & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i a = LOAD(src + i), b = LOAD(src + count + i);
        __m128i c = LOAD(src + 2 * count + i), d = LOAD(src + 3 * count + i);
        __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
        __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
        uint8_t *o = dst + 4 * i;
        STORE(o, _mm_unpacklo_epi16(ab_lo, cd_lo));
        STORE(o + 16, _mm_unpackhi_epi16(ab_lo, cd_lo));
        STORE(o + 32, _mm_unpacklo_epi16(ab_hi, cd_hi));
        STORE(o + 48, _mm_unpackhi_epi16(ab_hi, cd_hi));
    }
    return done;
}
#endif

void tt_shuffle_bytes(const uint8_t *src, uint8_t *dst, size_t n, size_t esize)
{
    if (esize < 2) {
        memcpy(dst, src, n);
        return;
    }
    size_t count = n / esize, done = 0;
#ifdef SHUFFLE_SSE2
    if (esize == 2)
        done = shuffle2_sse2(src, dst, count);
    else if (esize == 4)
        done = shuffle4_sse2(src, dst, count);
#endif
    shuffle_scalar(src, dst, count, esize, done);
    memcpy(dst + count * esize, src + count * esize, n - count * esize);
}

void tt_unshuffle_bytes(const uint8_t *src, uint8_t *dst, size_t n, size_t esize)
{
    if (esize < 2) {
        memcpy(dst, src, n);
        return;
    }
    size_t count = n / esize, done = 0;
#ifdef SHUFFLE_SSE2
    if (esize == 2)
        done = unshuffle2_sse2(src, dst, count);
    else if (esize == 4)
        done = unshuffle4_sse2(src, dst, count);
#endif
    unshuffle_scalar(src, dst, count, esize, done);
    memcpy(dst + count * esize, src + count * esize, n - count * esize);
}
