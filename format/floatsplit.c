/*
 * floatsplit.c — the FLOAT payload filter (FORMAT.md section 3, "Filter FLOAT"): each element's bits are
 * regrouped into an 8-bit symbol stream that holds the exponent and one to three streams that hold the sign and
 * the mantissa. The symbol stream is entropy-coded by zstd without any match search (ZSTD_compressSequences
 * with no sequence: every byte is a Huffman-coded literal); a mantissa stream is coded the same way only when a
 * sample says it pays, else stored as it is. The decoder is plain zstd decompression of each stream and the
 * inverse regrouping.
 *
 * Form 0 has two shapes, decoded by the same rule. The fast one (TT_FLOAT_FAST): the symbol is the exponent field
 * (f16: its 5 bits and the top 3 mantissa bits) and the mantissa is stored raw. The wide one (TT_FLOAT_WIDE): for
 * bf16 and f32 the symbol is six exponent bits relative to a per-chunk base plus the two top mantissa bits, and
 * the top mantissa stream is coded too: within a binade the density of activations falls, so the top mantissa
 * bits depend on the exponent, and Huffman's whole-bit code lengths cost less on a wider symbol; exponents outside
 * the base's window wrap, and the bits that tell them apart go to the top mantissa stream.
 *
 * Form 1 (TT_FLOAT_WINDOW, bf16 only; the writer's `float` setting): the symbol is the exponent's place in a window
 * of at most 15 exponents (or an escape) and the top 4 mantissa bits; the sign and the 3 low mantissa bits are
 * packed two elements to a byte and stored raw; an escaped element's exponent goes to a third stream. One
 * Huffman-coded byte and half a raw byte per element, where form 0 stores a whole raw mantissa byte: on
 * tracebench's bf16 data 10.52 bits per element against 10.60.
 *
 * Channel-aware model: with the row width known, the symbol stream MAY be stored as the difference to the symbol
 * of the same column in the previous row (activations can keep a channel's scale across tokens); the encoder
 * picks it per chunk when an entropy estimate on a sample says it wins.
 *
 * ZSTD_compressSequences of libzstd 1.5.4 writes past dstCapacity when that is smaller than its output, so it is
 * only ever given ZSTD_compressBound() of room (put_stream()).
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_compressSequences: entropy coding without match search */
#include "frame.h"

#include <math.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#if defined(__SSE2__) && !defined(TT_NO_SIMD)
#include <emmintrin.h>
#define FS_SSE2 1
#endif

#define FS_HEADER_FIXED 12
#define FS_SAMPLE 16384 /* elements a chunk's estimates look at */

/* The element layout of a FLOAT payload: s bytes, w = 8s bits; r = position of the symbol's lowest bit in the
 * magnitude after the base is subtracted; base B < 2^(w-1). */
typedef struct fs_layout {
    size_t s;
    unsigned r;
    uint32_t base;
} fs_layout;

static size_t fs_header_size(size_t s) { return FS_HEADER_FIXED + 4 * s; }

/* ---- regrouping ----------------------------------------------------------------------------------------- */
/* The scalar loops define the result; SSE2 (part of every x86-64) does 16 elements at a time with the same lane
 * arithmetic, and the scalar loops finish the tail. Each SSE2 function returns how many elements it did. */

static void split2_scalar(const uint8_t *src, size_t from, size_t c, fs_layout L, uint8_t *sym, uint8_t *m)
{
    const unsigned r = L.r;
    const uint16_t base = (uint16_t)L.base, low = (uint16_t)((1u << r) - 1);
    for (size_t i = from; i < c; i++) {
        uint16_t v = tt_rd16(src + 2 * i);
        uint16_t y = (uint16_t)(((v & 0x7fffu) - base) & 0x7fffu);
        sym[i] = (uint8_t)(y >> r);
        m[i] = (uint8_t)(((v >> 8) & 0x80u) | ((y >> (r + 8)) << r) | (y & low));
    }
}

static void join2_scalar(const uint8_t *sym, const uint8_t *m, size_t from, size_t c, fs_layout L, uint8_t *dst)
{
    const unsigned r = L.r;
    const uint16_t base = (uint16_t)L.base, low = (uint16_t)((1u << r) - 1);
    for (size_t i = from; i < c; i++) {
        uint16_t hi = (uint16_t)((m[i] & 0x7fu) >> r);
        uint16_t y = (uint16_t)((hi << (r + 8)) | (sym[i] << r) | (m[i] & low));
        tt_le16(dst + 2 * i, (uint16_t)(((y + base) & 0x7fffu) | ((m[i] & 0x80u) << 8)));
    }
}

static void split4_scalar(const uint8_t *src, size_t from, size_t c, fs_layout L, uint8_t *const pl[4])
{
    const unsigned r = L.r;
    const uint32_t base = L.base, low = (1u << r) - 1;
    for (size_t i = from; i < c; i++) {
        uint32_t v = tt_rd32(src + 4 * i);
        uint32_t y = ((v & 0x7fffffffu) - base) & 0x7fffffffu;
        uint32_t m = ((v >> 8) & 0x800000u) | ((y >> (r + 8)) << r) | (y & low);
        pl[0][i] = (uint8_t)(y >> r);
        pl[1][i] = (uint8_t)(m >> 16);
        pl[2][i] = (uint8_t)(m >> 8);
        pl[3][i] = (uint8_t)m;
    }
}

static void join4_scalar(const uint8_t *const pl[4], size_t from, size_t c, fs_layout L, uint8_t *dst)
{
    const unsigned r = L.r;
    const uint32_t base = L.base, low = (1u << r) - 1;
    for (size_t i = from; i < c; i++) {
        uint32_t m = ((uint32_t)pl[1][i] << 16) | ((uint32_t)pl[2][i] << 8) | pl[3][i];
        uint32_t y = (((m & 0x7fffffu) >> r) << (r + 8)) | ((uint32_t)pl[0][i] << r) | (m & low);
        tt_le32(dst + 4 * i, ((y + base) & 0x7fffffffu) | ((m & 0x800000u) << 8));
    }
}

#ifdef FS_SSE2
#define LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STORE(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))

typedef struct lanes16 {
    __m128i r, r8, base, low;
} lanes16;

static void split2_lane(__m128i v, const lanes16 *k, __m128i *sym, __m128i *m)
{
    const __m128i m7fff = _mm_set1_epi16(0x7fff), ff = _mm_set1_epi16(0xff), s80 = _mm_set1_epi16(0x80);
    __m128i y = _mm_and_si128(_mm_sub_epi16(_mm_and_si128(v, m7fff), k->base), m7fff);
    *sym = _mm_and_si128(_mm_srl_epi16(y, k->r), ff);
    *m = _mm_or_si128(_mm_or_si128(_mm_and_si128(_mm_srli_epi16(v, 8), s80), _mm_sll_epi16(_mm_srl_epi16(y, k->r8), k->r)),
                      _mm_and_si128(y, k->low));
}

static size_t split2_sse2(const uint8_t *src, size_t c, fs_layout L, uint8_t *sym, uint8_t *m)
{
    lanes16 k = {_mm_cvtsi32_si128((int)L.r), _mm_cvtsi32_si128((int)L.r + 8), _mm_set1_epi16((short)L.base),
                 _mm_set1_epi16((short)((1u << L.r) - 1))};
    size_t done = c & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i sa, sb, ma, mb;
        split2_lane(LOAD(src + 2 * i), &k, &sa, &ma);
        split2_lane(LOAD(src + 2 * i + 16), &k, &sb, &mb);
        STORE(sym + i, _mm_packus_epi16(sa, sb));
        STORE(m + i, _mm_packus_epi16(ma, mb));
    }
    return done;
}

static __m128i join2_lane(__m128i s, __m128i m, const lanes16 *k)
{
    const __m128i m7fff = _mm_set1_epi16(0x7fff), s7f = _mm_set1_epi16(0x7f), s80 = _mm_set1_epi16(0x80);
    __m128i hi = _mm_srl_epi16(_mm_and_si128(m, s7f), k->r);
    __m128i y = _mm_or_si128(_mm_or_si128(_mm_sll_epi16(hi, k->r8), _mm_sll_epi16(s, k->r)), _mm_and_si128(m, k->low));
    return _mm_or_si128(_mm_and_si128(_mm_add_epi16(y, k->base), m7fff), _mm_slli_epi16(_mm_and_si128(m, s80), 8));
}

static size_t join2_sse2(const uint8_t *sym, const uint8_t *m, size_t c, fs_layout L, uint8_t *dst)
{
    lanes16 k = {_mm_cvtsi32_si128((int)L.r), _mm_cvtsi32_si128((int)L.r + 8), _mm_set1_epi16((short)L.base),
                 _mm_set1_epi16((short)((1u << L.r) - 1))};
    const __m128i zero = _mm_setzero_si128();
    size_t done = c & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i s = LOAD(sym + i), mm = LOAD(m + i);
        STORE(dst + 2 * i, join2_lane(_mm_unpacklo_epi8(s, zero), _mm_unpacklo_epi8(mm, zero), &k));
        STORE(dst + 2 * i + 16, join2_lane(_mm_unpackhi_epi8(s, zero), _mm_unpackhi_epi8(mm, zero), &k));
    }
    return done;
}

typedef struct lanes32 {
    __m128i r, r8, base, low;
} lanes32;

static lanes32 lanes32_of(fs_layout L)
{
    lanes32 k = {_mm_cvtsi32_si128((int)L.r), _mm_cvtsi32_si128((int)L.r + 8), _mm_set1_epi32((int)L.base),
                 _mm_set1_epi32((int)((1u << L.r) - 1))};
    return k;
}

/* Four 32-bit lanes of 4 vectors (each value <= 255) to 16 bytes. */
static __m128i pack4(__m128i a, __m128i b, __m128i c, __m128i d)
{
    return _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d));
}

static size_t split4_sse2(const uint8_t *src, size_t c, fs_layout L, uint8_t *const pl[4])
{
    const lanes32 k = lanes32_of(L);
    const __m128i m31 = _mm_set1_epi32(0x7fffffff), ff = _mm_set1_epi32(0xff), s23 = _mm_set1_epi32(0x800000);
    size_t done = c & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i sy[4], m2[4], m1[4], m0[4];
        for (int q = 0; q < 4; q++) {
            __m128i v = LOAD(src + 4 * i + 16 * q);
            __m128i y = _mm_and_si128(_mm_sub_epi32(_mm_and_si128(v, m31), k.base), m31);
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_and_si128(_mm_srli_epi32(v, 8), s23),
                                                  _mm_sll_epi32(_mm_srl_epi32(y, k.r8), k.r)),
                                     _mm_and_si128(y, k.low));
            sy[q] = _mm_and_si128(_mm_srl_epi32(y, k.r), ff);
            m2[q] = _mm_srli_epi32(m, 16);
            m1[q] = _mm_and_si128(_mm_srli_epi32(m, 8), ff);
            m0[q] = _mm_and_si128(m, ff);
        }
        STORE(pl[0] + i, pack4(sy[0], sy[1], sy[2], sy[3]));
        STORE(pl[1] + i, pack4(m2[0], m2[1], m2[2], m2[3]));
        STORE(pl[2] + i, pack4(m1[0], m1[1], m1[2], m1[3]));
        STORE(pl[3] + i, pack4(m0[0], m0[1], m0[2], m0[3]));
    }
    return done;
}

/* Bytes 4q..4q+3 of a 16-byte vector as four 32-bit lanes. */
static __m128i widen(__m128i x, int q)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i h = q < 2 ? _mm_unpacklo_epi8(x, zero) : _mm_unpackhi_epi8(x, zero);
    return (q & 1) ? _mm_unpackhi_epi16(h, zero) : _mm_unpacklo_epi16(h, zero);
}

static size_t join4_sse2(const uint8_t *const pl[4], size_t c, fs_layout L, uint8_t *dst)
{
    const lanes32 k = lanes32_of(L);
    const __m128i m31 = _mm_set1_epi32(0x7fffffff), m23 = _mm_set1_epi32(0x7fffff), s23 = _mm_set1_epi32(0x800000);
    size_t done = c & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i S = LOAD(pl[0] + i), M2 = LOAD(pl[1] + i), M1 = LOAD(pl[2] + i), M0 = LOAD(pl[3] + i);
        for (int q = 0; q < 4; q++) {
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_slli_epi32(widen(M2, q), 16), _mm_slli_epi32(widen(M1, q), 8)),
                                     widen(M0, q));
            __m128i y = _mm_or_si128(_mm_or_si128(_mm_sll_epi32(_mm_srl_epi32(_mm_and_si128(m, m23), k.r), k.r8),
                                                  _mm_sll_epi32(widen(S, q), k.r)),
                                     _mm_and_si128(m, k.low));
            __m128i v = _mm_or_si128(_mm_and_si128(_mm_add_epi32(y, k.base), m31),
                                     _mm_slli_epi32(_mm_and_si128(m, s23), 8));
            STORE(dst + 4 * i + 16 * q, v);
        }
    }
    return done;
}

/* The exponent symbol with base 0 (r = 7 for 2-byte elements, r = 23 for 4-byte ones: the writer's `auto`): the
 * symbol is the exponent field and the top mantissa byte keeps its own 7 bits under the sign, so the regrouping is
 * a byte interleave with two bits moved: with h the element's top byte and g the one below it, S = h * 2 + g / 128
 * (mod 256) and M = (h & 0x80) | (g & 0x7f); back, g = (S * 128 mod 256) | (M & 0x7f) and h = (M & 0x80) | S / 2.
 * SSE2 has no byte shift: a 16-bit shift and a byte mask do it. */
static inline void exp_join_bytes(__m128i S, __m128i M, __m128i *g, __m128i *h)
{
    const __m128i x80 = _mm_set1_epi8((char)0x80), x7f = _mm_set1_epi8(0x7f);
    *g = _mm_or_si128(_mm_and_si128(_mm_slli_epi16(S, 7), x80), _mm_and_si128(M, x7f));
    *h = _mm_or_si128(_mm_and_si128(M, x80), _mm_and_si128(_mm_srli_epi16(S, 1), x7f));
}

static size_t join2_exp_sse2(const uint8_t *sym, const uint8_t *m, size_t c, uint8_t *dst)
{
    size_t done = c & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i g, h;
        exp_join_bytes(LOAD(sym + i), LOAD(m + i), &g, &h);
        STORE(dst + 2 * i, _mm_unpacklo_epi8(g, h));
        STORE(dst + 2 * i + 16, _mm_unpackhi_epi8(g, h));
    }
    return done;
}

static size_t join4_exp_sse2(const uint8_t *const pl[4], size_t c, uint8_t *dst)
{
    size_t done = c & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i g, h, b0 = LOAD(pl[3] + i), b1 = LOAD(pl[2] + i);
        exp_join_bytes(LOAD(pl[0] + i), LOAD(pl[1] + i), &g, &h);
        __m128i lo0 = _mm_unpacklo_epi8(b0, b1), lo1 = _mm_unpackhi_epi8(b0, b1);
        __m128i hi0 = _mm_unpacklo_epi8(g, h), hi1 = _mm_unpackhi_epi8(g, h);
        STORE(dst + 4 * i, _mm_unpacklo_epi16(lo0, hi0));
        STORE(dst + 4 * i + 16, _mm_unpackhi_epi16(lo0, hi0));
        STORE(dst + 4 * i + 32, _mm_unpacklo_epi16(lo1, hi1));
        STORE(dst + 4 * i + 48, _mm_unpackhi_epi16(lo1, hi1));
    }
    return done;
}

static size_t split4_exp_sse2(const uint8_t *src, size_t c, uint8_t *const pl[4])
{
    const __m128i ff = _mm_set1_epi32(0xff), x80 = _mm_set1_epi32(0x80), x7f = _mm_set1_epi32(0x7f);
    size_t done = c & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i sy[4], m2[4], m1[4], m0[4];
        for (int q = 0; q < 4; q++) {
            __m128i v = LOAD(src + 4 * i + 16 * q);
            __m128i g = _mm_and_si128(_mm_srli_epi32(v, 16), ff), h = _mm_srli_epi32(v, 24);
            sy[q] = _mm_and_si128(_mm_or_si128(_mm_slli_epi32(h, 1), _mm_srli_epi32(g, 7)), ff);
            m2[q] = _mm_or_si128(_mm_and_si128(h, x80), _mm_and_si128(g, x7f));
            m1[q] = _mm_and_si128(_mm_srli_epi32(v, 8), ff);
            m0[q] = _mm_and_si128(v, ff);
        }
        STORE(pl[0] + i, pack4(sy[0], sy[1], sy[2], sy[3]));
        STORE(pl[1] + i, pack4(m2[0], m2[1], m2[2], m2[3]));
        STORE(pl[2] + i, pack4(m1[0], m1[1], m1[2], m1[3]));
        STORE(pl[3] + i, pack4(m0[0], m0[1], m0[2], m0[3]));
    }
    return done;
}
#endif

static void split2(const uint8_t *src, size_t c, fs_layout L, uint8_t *sym, uint8_t *m)
{
    size_t done = 0;
#ifdef FS_SSE2
    done = split2_sse2(src, c, L, sym, m);
#endif
    split2_scalar(src, done, c, L, sym, m);
}

static void join2(const uint8_t *sym, const uint8_t *m, size_t c, fs_layout L, uint8_t *dst)
{
    size_t done = 0;
#ifdef FS_SSE2
    done = L.r == 7 && L.base == 0 ? join2_exp_sse2(sym, m, c, dst) : join2_sse2(sym, m, c, L, dst);
#endif
    join2_scalar(sym, m, done, c, L, dst);
}

static void split4(const uint8_t *src, size_t c, fs_layout L, uint8_t *const pl[4])
{
    size_t done = 0;
#ifdef FS_SSE2
    done = L.r == 23 && L.base == 0 ? split4_exp_sse2(src, c, pl) : split4_sse2(src, c, L, pl);
#endif
    split4_scalar(src, done, c, L, pl);
}

static void join4(const uint8_t *const pl[4], size_t c, fs_layout L, uint8_t *dst)
{
    size_t done = 0;
#ifdef FS_SSE2
    done = L.r == 23 && L.base == 0 ? join4_exp_sse2(pl, c, dst) : join4_sse2(pl, c, L, dst);
#endif
    join4_scalar(pl, done, c, L, dst);
}

/* Row-delta model: symbol i minus symbol i - w (mod 256), in place, from the end; and its inverse. */
static void delta_rows(uint8_t *sym, size_t c, size_t w)
{
    for (size_t i = c; i-- > w;)
        sym[i] = (uint8_t)(sym[i] - sym[i - w]);
}

static void undelta_rows(uint8_t *sym, size_t c, size_t w)
{
    for (size_t i = w; i < c; i++)
        sym[i] = (uint8_t)(sym[i] + sym[i - w]);
}

/* ---- form 1: exponent window and nibbles (two-byte elements) --------------------------------------------- */
/* Each element's magnitude y = (x - B) mod 2^15 gives q = y >> 7 (the exponent field relative to the window's
 * start B >> 7). The symbol is min(q, w) in its high nibble and the top 4 of y's 7 low bits in its low nibble;
 * the sign and the 3 lowest bits go to a nibble stream, two elements to a byte; q >= w (outside the window of w
 * exponents, 1 <= w <= 15) is an escape, and q itself goes to the escape stream. split_f1() returns the number of escapes, or
 * (size_t)-1 when there are more than cap. */

static size_t split_f1_scalar(const uint8_t *src, size_t from, size_t c, uint16_t base, unsigned w, uint8_t *sym,
                              uint8_t *nib, uint8_t *esc, size_t k, size_t cap)
{
    for (size_t i = from; i < c; i++) {
        uint16_t v = tt_rd16(src + 2 * i);
        uint16_t y = (uint16_t)(((v & 0x7fffu) - base) & 0x7fffu);
        unsigned q = y >> 7, n = ((v >> 12) & 8u) | (y & 7u);
        sym[i] = (uint8_t)(((q < w ? q : w) << 4) | ((y >> 3) & 15u));
        if (q >= w) {
            if (k == cap)
                return (size_t)-1;
            esc[k++] = (uint8_t)q;
        }
        if (i & 1)
            nib[i >> 1] = (uint8_t)(nib[i >> 1] | (n << 4));
        else
            nib[i >> 1] = (uint8_t)n;
    }
    return k;
}

/* Rebuilds elements [from, c); *k is the next escape, ne the escapes there are. @return : 0, or -1 when a symbol
 * is above the escape or an escape has no escape byte left. */
static int join_f1_scalar(const uint8_t *sym, const uint8_t *nib, const uint8_t *esc, size_t ne, size_t *k,
                          size_t from, size_t c, uint16_t base, unsigned w, uint8_t *dst)
{
    for (size_t i = from; i < c; i++) {
        unsigned s = sym[i], n = (nib[i >> 1] >> ((i & 1) * 4)) & 15u, q = s >> 4;
        if (q >= w) {
            if (q > w || *k >= ne)
                return -1;
            q = esc[(*k)++];
        }
        uint16_t y = (uint16_t)((q << 7) | ((s & 15u) << 3) | (n & 7u));
        tt_le16(dst + 2 * i, (uint16_t)(((y + base) & 0x7fffu) | ((n & 8u) << 12)));
    }
    return 0;
}

#ifdef FS_SSE2
/* 8 elements: symbol and nibble lanes (16-bit), and the lanes' q (for the escape test). */
static void split_f1_lane(__m128i v, __m128i base, __m128i esc, __m128i *sym, __m128i *nib, __m128i *q)
{
    const __m128i m7fff = _mm_set1_epi16(0x7fff), f = _mm_set1_epi16(15),
                  s7 = _mm_set1_epi16(7), s8 = _mm_set1_epi16(8);
    __m128i y = _mm_and_si128(_mm_sub_epi16(_mm_and_si128(v, m7fff), base), m7fff);
    *q = _mm_srli_epi16(y, 7);
    *sym = _mm_or_si128(_mm_slli_epi16(_mm_min_epi16(*q, esc), 4), _mm_and_si128(_mm_srli_epi16(y, 3), f));
    *nib = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(v, 12), s8), _mm_and_si128(y, s7));
}

static size_t split_f1_sse2(const uint8_t *src, size_t c, uint16_t base, unsigned w, uint8_t *sym, uint8_t *nib,
                            uint8_t *esc, size_t cap, size_t *ne)
{
    const __m128i b = _mm_set1_epi16((short)base), e = _mm_set1_epi16((short)w), e1 = _mm_set1_epi16((short)(w - 1)),
                  lo = _mm_set1_epi16(0x00ff);
    size_t done = c & ~(size_t)15, k = 0;
    for (size_t i = 0; i < done; i += 16) {
        __m128i sa, sb, na, nb, qa, qb;
        split_f1_lane(LOAD(src + 2 * i), b, e, &sa, &na, &qa);
        split_f1_lane(LOAD(src + 2 * i + 16), b, e, &sb, &nb, &qb);
        STORE(sym + i, _mm_packus_epi16(sa, sb));
        /* 16 nibble bytes n0 n1 ... as 16-bit lanes n0 | n1 << 8: to n0 | n1 << 4, then 8 bytes */
        __m128i n = _mm_packus_epi16(na, nb);
        __m128i pair = _mm_or_si128(_mm_and_si128(n, lo), _mm_srli_epi16(n, 4));
        _mm_storel_epi64((__m128i *)(void *)(nib + i / 2), _mm_packus_epi16(_mm_and_si128(pair, lo), _mm_setzero_si128()));
        int m = _mm_movemask_epi8(_mm_packs_epi16(_mm_cmpgt_epi16(qa, e1), _mm_cmpgt_epi16(qb, e1)));
        if (m) {
            if (k + 16 > cap) { /* more escapes than room: the caller takes form 0 */
                *ne = (size_t)-1;
                return i;
            }
            __m128i q = _mm_packus_epi16(qa, qb);
            uint8_t qs[16];
            STORE(qs, q);
            for (; m; m &= m - 1)
                esc[k++] = qs[__builtin_ctz((unsigned)m)];
        }
    }
    *ne = k;
    return done;
}
#endif

#ifdef FS_SSE2
static size_t join_f1_sse2(const uint8_t *sym, const uint8_t *nib, const uint8_t *esc, size_t ne, size_t *k, size_t c,
                           uint16_t base, unsigned w, uint8_t *dst, int *bad)
{
    const __m128i zero = _mm_setzero_si128(), f = _mm_set1_epi8(15), wf = _mm_set1_epi8((char)(w << 4)),
                  b = _mm_set1_epi16((short)base), m7fff = _mm_set1_epi16(0x7fff), w7 = _mm_set1_epi16(7),
                  w8 = _mm_set1_epi16(8);
    size_t done = c & ~(size_t)15;
    for (size_t i = 0; i < done; i += 16) {
        __m128i S = LOAD(sym + i), N8 = _mm_loadl_epi64((const __m128i *)(const void *)(nib + i / 2));
        __m128i N = _mm_unpacklo_epi8(_mm_and_si128(N8, f), _mm_and_si128(_mm_srli_epi16(N8, 4), f));
        for (int half = 0; half < 2; half++) {
            __m128i s = half ? _mm_unpackhi_epi8(S, zero) : _mm_unpacklo_epi8(S, zero);
            __m128i n = half ? _mm_unpackhi_epi8(N, zero) : _mm_unpacklo_epi8(N, zero);
            /* s = q * 16 + top4, so s * 8 = q * 2^7 + top4 * 8 */
            __m128i y = _mm_or_si128(_mm_slli_epi16(s, 3), _mm_and_si128(n, w7));
            __m128i v = _mm_or_si128(_mm_and_si128(_mm_add_epi16(y, b), m7fff), _mm_slli_epi16(_mm_and_si128(n, w8), 12));
            STORE(dst + 2 * i + 16 * half, v);
        }
        /* symbols >= w << 4: escapes (the exponent from the escape stream) or damage */
        int m = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(S, wf), S));
        for (; m; m &= m - 1) {
            size_t at = i + (size_t)__builtin_ctz((unsigned)m);
            if (join_f1_scalar(sym, nib, esc, ne, k, at, at + 1, base, w, dst)) {
                *bad = 1;
                return at;
            }
        }
    }
    return done;
}
#endif

static size_t split_f1(const uint8_t *src, size_t c, uint16_t base, unsigned w, uint8_t *sym, uint8_t *nib,
                       uint8_t *esc, size_t cap)
{
    size_t done = 0, k = 0;
#ifdef FS_SSE2
    done = split_f1_sse2(src, c, base, w, sym, nib, esc, cap, &k);
    if (k == (size_t)-1)
        return k;
#endif
    return split_f1_scalar(src, done, c, base, w, sym, nib, esc, k, cap);
}

/* @return : 0, or -1 when the symbols call for more escapes than ne or fewer */
static int join_f1(const uint8_t *sym, const uint8_t *nib, const uint8_t *esc, size_t ne, size_t c, uint16_t base,
                   unsigned w, uint8_t *dst)
{
    size_t done = 0, k = 0;
#ifdef FS_SSE2
    int bad = 0;
    done = join_f1_sse2(sym, nib, esc, ne, &k, c, base, w, dst, &bad);
    if (bad)
        return -1;
#endif
    if (join_f1_scalar(sym, nib, esc, ne, &k, done, c, base, w, dst))
        return -1;
    return k == ne ? 0 : -1;
}

/* Form 1's window on a sample of a bf16 chunk: the narrowest window of w exponent fields (bits 14..7), 8 <= w <= 15,
 * that leaves at most F1_WANT_OUTSIDE of the sample outside, else 15; its start, and the share outside it. A
 * narrower window has fewer rare symbols, so the Huffman code (at most 11 bits long) wastes less on them; each
 * escape costs a byte of its own. 1 % outside is the balance chosen between the two. */
#define F1_WANT_OUTSIDE 0.01
static unsigned f1_window(const uint8_t *src, size_t c, unsigned *wp, double *outside)
{
    uint32_t h[256] = {0}, n = 0;
    size_t step = c > FS_SAMPLE ? c / FS_SAMPLE : 1;
    for (size_t i = 0; i < c; i += step, n++)
        h[(tt_rd16(src + 2 * i) >> 7) & 0xffu]++;
    unsigned start = 0, w = 8;
    for (; w <= 15; w++) {
        uint32_t in = 0, best = 0;
        for (unsigned j = 0; j < w; j++)
            in += h[j];
        for (unsigned b = 0; b < 256; b++) { /* window [b, b + w) mod 256 */
            if (in > best)
                best = in, start = b;
            in += h[(b + w) & 0xffu];
            in -= h[b];
        }
        *outside = n ? 1.0 - (double)best / n : 1.0;
        if (*outside <= F1_WANT_OUTSIDE || w == 15)
            break;
    }
    *wp = w;
    return start;
}

/* ---- estimates on a sample ------------------------------------------------------------------------------- */

/* Order-0 entropy in bits per symbol of a histogram of n samples. */
static double hist_bits(const uint32_t *h, uint32_t n)
{
    if (!n)
        return 8.0;
    double e = 0;
    for (int k = 0; k < 256; k++)
        if (h[k])
            e -= (double)h[k] * log2((double)h[k] / n);
    return e / n;
}

/* Sample positions: 64 runs of 256 consecutive elements spread over [from, c), or everything when smaller. */
static uint32_t sample_hist(const uint8_t *p, size_t from, size_t c, uint32_t h[256])
{
    memset(h, 0, 256 * sizeof *h);
    uint32_t n = 0;
    if (c <= from)
        return 0;
    size_t span = c - from;
    if (span <= FS_SAMPLE) {
        for (size_t i = from; i < c; i++)
            h[p[i]]++;
        return (uint32_t)span;
    }
    size_t step = span / 64;
    for (size_t b = 0; b < 64; b++)
        for (size_t i = from + b * step, e = i + 256; i < e; i++, n++)
            h[p[i]]++;
    return n;
}

/* Entropy of the row deltas (sym[i] - sym[i - w]) on the same sample layout. */
static double delta_bits(const uint8_t *sym, size_t c, size_t w)
{
    uint32_t h[256] = {0}, n = 0;
    size_t span = c - w;
    size_t step = span <= FS_SAMPLE ? 0 : span / 64;
    for (size_t b = 0; b < (step ? 64u : 1u); b++) {
        size_t i = w + b * step, e = step ? i + 256 : c;
        for (; i < e; i++, n++)
            h[(uint8_t)(sym[i] - sym[i - w])]++;
    }
    return hist_bits(h, n);
}

/* The most frequent exponent field value (exp_bits wide, above mant_bits) on a sample of 16-bit or 32-bit
 * elements: the base centres it in the symbol. */
static uint32_t mode_exponent(const uint8_t *src, size_t c, size_t s, unsigned mant_bits, unsigned exp_bits)
{
    uint32_t h[256] = {0};
    size_t step = c > FS_SAMPLE ? c / FS_SAMPLE : 1;
    uint32_t mask = (1u << exp_bits) - 1;
    for (size_t i = 0; i < c; i += step) {
        uint32_t v = s == 2 ? tt_rd16(src + 2 * i) : tt_rd32(src + 4 * i);
        h[(v >> mant_bits) & mask & 0xff]++;
    }
    uint32_t best = 0;
    for (uint32_t k = 1; k < 256; k++)
        if (h[k] > h[best])
            best = k;
    return best;
}

/* ---- streams --------------------------------------------------------------------------------------------- */

/* Codes one stream of c bytes at out (capacity cap): as one literals-only zstd frame when that is smaller,
 * else as the bytes themselves. zstd is only called with room for its worst case (ZSTD_compressBound), so a
 * stream at the end of a nearly full buffer is stored as it is. @return : the stored length, or (size_t)-1 when
 * it does not fit in cap (or zstd failed: *zerr is then its error code). */
static size_t put_stream(void *lit, const uint8_t *in, size_t c, int code, uint8_t *out, size_t cap, int *zerr)
{
    if (code && c > 0 && cap >= ZSTD_compressBound(c)) {
        size_t z = ZSTD_compressSequences((ZSTD_CCtx *)lit, out, cap, NULL, 0, in, c);
        if (ZSTD_isError(z)) {
            ZSTD_CCtx_reset((ZSTD_CCtx *)lit, ZSTD_reset_session_only);
            *zerr = (int)ZSTD_getErrorCode(z);
            return (size_t)-1;
        }
        if (z < c)
            return z;
    }
    if (c > cap)
        return (size_t)-1;
    memcpy(out, in, c);
    return c;
}

/* Codes k streams one after the other at dst + *at (put_stream() each, entropy-coded where code[j]), leaving room
 * for t trailing bytes within dst_cap; their stored lengths go to len. @return : TT_OK with *at past the last
 * stream, STREAMS_NO_ROOM when they do not fit (the caller stores the chunk as it is), or TT_E_CORRUPT (zstd
 * failed, message in err). */
#define STREAMS_NO_ROOM 1
static int put_streams(void *lit, const uint8_t *const in[], const size_t cnt[], const int code[], size_t k,
                       uint8_t *dst, size_t dst_cap, size_t t, size_t *at, uint32_t len[], char *err, size_t errlen)
{
    if (*at + t > dst_cap)
        return STREAMS_NO_ROOM;
    for (size_t j = 0; j < k; j++) {
        int zerr = 0;
        size_t z = put_stream(lit, in[j], cnt[j], code[j], dst + *at, dst_cap - t - *at, &zerr);
        if (z == (size_t)-1)
            return zerr ? tt_errf(err, errlen, TT_E_CORRUPT, "zstd compression failed: %s",
                                  ZSTD_getErrorString((ZSTD_ErrorCode)zerr))
                        : STREAMS_NO_ROOM;
        len[j] = (uint32_t)z;
        *at += z;
    }
    return TT_OK;
}

void tt_float_cctx_params(void *cctx)
{
    ZSTD_CCtx *z = (ZSTD_CCtx *)cctx;
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 1);
    /* no match is ever searched: the smallest tables; a window of 128 KiB keeps blocks (one Huffman table each)
     * at their largest size */
    ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, 17);
    ZSTD_CCtx_setParameter(z, ZSTD_c_hashLog, ZSTD_HASHLOG_MIN);
    ZSTD_CCtx_setParameter(z, ZSTD_c_chainLog, ZSTD_CHAINLOG_MIN);
}

int tt_float_layout(tt_dtype dt, size_t *esize, unsigned *mant_bits, unsigned *exp_bits)
{
    switch (dt) {
    case TT_BF16: *esize = 2, *mant_bits = 7, *exp_bits = 8; return 1;
    case TT_F16: *esize = 2, *mant_bits = 10, *exp_bits = 5; return 1;
    case TT_F32: *esize = 4, *mant_bits = 23, *exp_bits = 8; return 1;
    case TT_F8_E4M3: case TT_F8_E5M2: case TT_F8_E4M3FNUZ: case TT_F8_E5M2FNUZ:
        *esize = 1, *mant_bits = 0, *exp_bits = 0; return 1;
    default: return 0;
    }
}

/* The layout the encoder uses: the symbol holds the exponent field and the mantissa's top (8 - exp_bits) bits
 * when the exponent has fewer than 8 bits (f16: all 5 exponent bits), else (8 - k) exponent bits relative to a
 * base centred on the most frequent exponent and the k top mantissa bits (k = 0: the exponent as it is). */
static fs_layout choose_layout(const uint8_t *src, size_t c, size_t s, unsigned mant_bits, unsigned exp_bits,
                               unsigned k)
{
    fs_layout L = {s, 0, 0};
    if (s == 1)
        return L;
    unsigned w = 8 * (unsigned)s;
    if (exp_bits < 8) {
        L.r = mant_bits + exp_bits - 8; /* the symbol reaches the sign: no base needed */
        return L;
    }
    if (k == 0) {
        L.r = mant_bits; /* the symbol is the exponent */
        return L;
    }
    L.r = mant_bits - k;
    uint32_t mode = mode_exponent(src, c, s, mant_bits, exp_bits);
    uint32_t ebase = (mode - (1u << (7 - k))) & ((1u << (w - 1 - mant_bits)) - 1);
    L.base = ebase << mant_bits;
    return L;
}

/* The chunk stored as it is (filter NONE, codec RAW): dst already holds its n bytes. */
static int store_raw(const uint8_t *dst, size_t n, tt_frame_header *h)
{
    h->filter = TT_FILTER_NONE;
    h->elem_size = 0;
    h->codec = TT_CODEC_RAW;
    h->raw_size = n;
    h->stored_size = n;
    h->payload_hash = tt_hash64(dst, n);
    return TT_OK;
}

static int store_float(const uint8_t *dst, size_t n, size_t s, size_t stored, tt_frame_header *h)
{
    h->filter = TT_FILTER_FLOAT;
    h->elem_size = (uint8_t)s;
    h->codec = TT_CODEC_ZSTD;
    h->raw_size = n;
    h->stored_size = stored;
    h->payload_hash = tt_hash64(dst, stored);
    return TT_OK;
}

/* Escapes above this share of a sample leave a bf16 chunk to form 0 (each costs a byte of its own). */
#define F1_MAX_OUTSIDE (1.0 / 64)
#define F1_FALLBACK 1 /* not a TT_* status: encode_f1() found too many escapes, nothing was written */

/* Form 1 for a chunk of c two-byte elements (n = 2c + t bytes), window start `start`. */
static int encode_f1(const uint8_t *src, size_t n, unsigned start, unsigned w, void *lit, uint8_t *scratch, uint8_t *dst,
                     size_t dst_cap, tt_frame_header *h, char *err, size_t errlen)
{
    size_t c = n / 2, t = n - 2 * c, nb = (c + 1) / 2;
    uint16_t base = (uint16_t)(start << 7);
    uint8_t *sym = scratch, *nib = scratch + c, *esc = nib + nb;
    /* at most floor(c / 2) escapes (FORMAT.md), which also fits what is left of scratch */
    size_t ne = split_f1(src, c, base, w, sym, nib, esc, c / 2);
    if (ne == (size_t)-1)
        return F1_FALLBACK;
    uint8_t tail = t ? src[n - 1] : 0; /* dst may be src: keep the trailing byte before dst is written */
    const uint8_t *const in[3] = {sym, nib, esc};
    const size_t cnt[3] = {c, nb, ne};
    const int code[3] = {1, 0, 1}; /* the nibbles (sign and low mantissa bits) are near-random: stored as they are */
    size_t at = FS_HEADER_FIXED + 12;
    uint32_t len[3] = {0, 0, 0};
    int rc = put_streams(lit, in, cnt, code, 3, dst, dst_cap, t, &at, len, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == STREAMS_NO_ROOM || at + t >= n) { /* not smaller: the bytes back (dst may be src), stored as they are */
        join_f1(sym, nib, esc, ne, c, base, w, dst);
        if (t)
            dst[n - 1] = tail;
        return store_raw(dst, n, h);
    }
    if (t)
        dst[at++] = tail;
    dst[0] = 0; /* model */
    dst[1] = 7; /* shift */
    dst[2] = 1; /* form */
    dst[3] = (uint8_t)w;
    tt_le32(dst + 4, base);
    tt_le32(dst + 8, (uint32_t)ne);
    for (size_t j = 0; j < 3; j++)
        tt_le32(dst + FS_HEADER_FIXED + 4 * j, len[j]);
    return store_float(dst, n, 2, at, h);
}

int tt_payload_encode_float(const uint8_t *src, size_t n, tt_dtype dt, uint64_t row_elems, unsigned kind,
                            void *lit_cctx, uint8_t *scratch, uint8_t *dst, size_t dst_cap, tt_frame_header *h,
                            char *err, size_t errlen)
{
    size_t s;
    unsigned mant_bits, exp_bits;
    if (!tt_float_layout(dt, &s, &mant_bits, &exp_bits) || !lit_cctx)
        return tt_errf(err, errlen, TT_E_INVAL, "float filter: dtype %d has no float layout", (int)dt);
    if (dst_cap < n)
        return tt_errf(err, errlen, TT_E_INVAL, "payload encode: capacity %zu below %zu bytes", dst_cap, n);
    size_t c = n / s, t = n - c * s;
    int fast = !(kind & TT_FLOAT_WIDE);
    if ((kind & TT_FLOAT_WINDOW) && s == 2 && exp_bits == 8 && c >= 16) {
        double outside;
        unsigned w, start = f1_window(src, c, &w, &outside);
        if (outside < F1_MAX_OUTSIDE) {
            int rc = encode_f1(src, n, start, w, lit_cctx, scratch, dst, dst_cap, h, err, errlen);
            if (rc != F1_FALLBACK)
                return rc;
        }
    }
    fs_layout L = choose_layout(src, c, s, mant_bits, exp_bits, fast ? 0 : 2);
    /* streams into scratch: the symbol plane first, then the mantissa planes, most significant first */
    uint8_t *plane[4] = {scratch, scratch + c, scratch + 2 * c, scratch + 3 * c};
    uint8_t tail[4];
    memcpy(tail, src + c * s, t); /* dst may be src: keep the trailing bytes before dst is written */
    if (s == 1)
        memcpy(plane[0], src, c);
    else if (s == 2)
        split2(src, c, L, plane[0], plane[1]);
    else
        split4(src, c, L, plane);

    uint32_t hist[256];
    uint8_t model = 0;
    size_t width = 0;
    if (row_elems > 0 && row_elems <= UINT32_MAX && c >= 2 * row_elems && c - row_elems >= 1024) {
        width = (size_t)row_elems;
        double plain = hist_bits(hist, sample_hist(plane[0], width, c, hist));
        if (delta_bits(plane[0], c, width) < plain * 0.97) {
            delta_rows(plane[0], c, width);
            model = 1;
        }
    }
    size_t at = fs_header_size(s), cnt[4] = {c, c, c, c};
    uint32_t len[4] = {0, 0, 0, 0};
    int code[4] = {1, 0, 0, 0};
    for (size_t j = 1; j < s; j++) /* a mantissa plane is coded when a sample says it is not near-random */
        code[j] = !fast && hist_bits(hist, sample_hist(plane[j], 0, c, hist)) < 7.6;
    int rc = put_streams(lit_cctx, (const uint8_t *const *)plane, cnt, code, s, dst, dst_cap, t, &at, len, err,
                         errlen);
    if (rc < 0)
        return rc;
    if (rc == STREAMS_NO_ROOM || at + t >= n) {
        /* not smaller: restore the bytes (dst may be src) and store them as they are */
        if (model)
            undelta_rows(plane[0], c, width);
        if (s == 1)
            memcpy(dst, plane[0], c);
        else if (s == 2)
            join2(plane[0], plane[1], c, L, dst);
        else
            join4((const uint8_t *const *)plane, c, L, dst);
        memcpy(dst + c * s, tail, t);
        return store_raw(dst, n, h);
    }
    memcpy(dst + at, tail, t);
    at += t;
    dst[0] = model;
    dst[1] = (uint8_t)L.r;
    dst[2] = dst[3] = 0;
    tt_le32(dst + 4, L.base);
    tt_le32(dst + 8, model ? (uint32_t)width : 0);
    for (size_t j = 0; j < s; j++)
        tt_le32(dst + FS_HEADER_FIXED + 4 * j, len[j]);
    return store_float(dst, n, s, at, h);
}

/* ---- decoding -------------------------------------------------------------------------------------------- */

/* Inflates one coded stream (exactly one zstd frame of exactly c bytes) into out. */
static int inflate_stream(ZSTD_DCtx *d, const uint8_t *in, size_t len, uint8_t *out, size_t c, size_t j, char *err,
                          size_t errlen)
{
    size_t one = ZSTD_findFrameCompressedSize(in, len);
    if (ZSTD_isError(one) || one != len)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: stream %zu (%zu bytes) is not exactly one zstd frame",
                       j, len);
    unsigned long long content = ZSTD_getFrameContentSize(in, len);
    size_t z = ZSTD_decompressDCtx(d, out, c, in, len);
    if (ZSTD_isError(z))
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: stream %zu: zstd: %s", j, ZSTD_getErrorName(z));
    if (z != c || (content != ZSTD_CONTENTSIZE_UNKNOWN && content != c))
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: stream %zu inflated to %zu bytes, %zu expected", j,
                       z, c);
    return TT_OK;
}

/* Form 1 (two-byte elements): the header's fields as in form 0 with the window w in byte 3 and the escape count
 * K in place of `width`; three streams: symbols (c bytes), nibbles (ceil(c / 2)), escapes (K). */
static int decode_f1(const tt_frame_header *h, const uint8_t *stored, uint8_t *dst, uint8_t *scratch, void *dctx,
                     char *err, size_t errlen)
{
    size_t n = (size_t)h->raw_size, ns = (size_t)h->stored_size, c = n / 2, t = n - 2 * c, nb = (c + 1) / 2;
    size_t hs = FS_HEADER_FIXED + 12;
    if (h->elem_size != 2)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: form 1 with element size %u (2)",
                       (unsigned)h->elem_size);
    if (ns < hs)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: %zu stored bytes, below its %zu-byte header", ns, hs);
    uint32_t base = tt_rd32(stored + 4), ne = tt_rd32(stored + 8);
    unsigned w = stored[3];
    if (stored[0] != 0 || stored[1] != 7 || w < 1 || w > 15)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: form 1 with model %u, shift %u and window %u (0, 7 "
                       "and 1..15)", stored[0], stored[1], w);
    if (base >= 0x8000u)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: base %u does not fit 2-byte elements", base);
    if (ne > c / 2)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: %u escapes for %zu elements (at most %zu)", ne, c,
                       c / 2);
    const size_t want[3] = {c, nb, ne};
    uint64_t total = hs + t;
    for (size_t j = 0; j < 3; j++) {
        uint32_t len = tt_rd32(stored + FS_HEADER_FIXED + 4 * j);
        if (len > want[j])
            return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: stream %zu stores %u bytes for %zu", j, len,
                           want[j]);
        total += len;
    }
    if (total != ns)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: header and streams add up to %llu bytes, frame "
                       "stores %zu", (unsigned long long)total, ns);
    ZSTD_DCtx *own = NULL, *d = (ZSTD_DCtx *)dctx;
    const uint8_t *plane[3] = {NULL, NULL, NULL};
    const uint8_t *at = stored + hs;
    uint8_t *out = scratch; /* c + nb + ne <= 2c bytes of scratch */
    int rc = TT_OK;
    for (size_t j = 0; j < 3 && rc == TT_OK; j++) {
        size_t len = tt_rd32(stored + FS_HEADER_FIXED + 4 * j);
        if (len == want[j]) {
            plane[j] = at; /* stored as it is */
        } else {
            if (!d && !(d = own = ZSTD_createDCtx()))
                rc = tt_errf(err, errlen, TT_E_NOMEM, "cannot allocate a zstd context");
            else
                rc = inflate_stream(d, at, len, out, want[j], j, err, errlen);
            plane[j] = out;
        }
        out += want[j];
        at += len;
    }
    ZSTD_freeDCtx(own);
    if (rc != TT_OK)
        return rc;
    if ((c & 1) && (plane[1][nb - 1] >> 4))
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: the unused last nibble is %u, not 0",
                       plane[1][nb - 1] >> 4);
    if (join_f1(plane[0], plane[1], plane[2], ne, c, (uint16_t)base, w, dst))
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: the symbols' escapes do not match the escape "
                       "count %u", ne);
    if (t)
        dst[n - 1] = *at;
    return TT_OK;
}

int tt_payload_decode_float(const tt_frame_header *h, const uint8_t *stored, uint8_t *dst, uint8_t *scratch,
                            void *dctx, char *err, size_t errlen)
{
    size_t s = h->elem_size, n = (size_t)h->raw_size, ns = (size_t)h->stored_size;
    if (s != 1 && s != 2 && s != 4)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: element size %zu (1, 2 or 4)", s);
    if (!scratch)
        return tt_errf(err, errlen, TT_E_INVAL, "payload decode: float frame needs a scratch buffer");
    size_t c = n / s, t = n - c * s, hs = fs_header_size(s);
    if (ns < hs)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: %zu stored bytes, below its %zu-byte header", ns, hs);
    if (stored[2] == 1)
        return decode_f1(h, stored, dst, scratch, dctx, err, errlen);
    if (stored[2] != 0)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: unknown form %u", stored[2]);
    fs_layout L = {s, stored[1], tt_rd32(stored + 4)};
    uint8_t model = stored[0];
    uint32_t width = tt_rd32(stored + 8);
    unsigned w = 8 * (unsigned)s;
    if (model > 1)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: unknown symbol model %u", model);
    if (model == 1 && width == 0)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: row model with row width 0");
    if (s == 1 ? (L.r != 0 || L.base != 0) : (L.r + 8 > w - 1 || L.base >= (1u << (w - 1))))
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: shift %u or base %u do not fit %zu-byte elements",
                       L.r, L.base, s);
    uint64_t total = hs + t;
    for (size_t j = 0; j < s; j++) {
        uint32_t len = tt_rd32(stored + FS_HEADER_FIXED + 4 * j);
        if (len > c)
            return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: stream %zu stores %u bytes for %zu", j, len, c);
        total += len;
    }
    if (total != ns)
        return tt_errf(err, errlen, TT_E_CORRUPT, "float filter: header and streams add up to %llu bytes, frame "
                       "stores %zu", (unsigned long long)total, ns);
    ZSTD_DCtx *own = NULL, *d = (ZSTD_DCtx *)dctx;
    const uint8_t *plane[4] = {NULL, NULL, NULL, NULL};
    const uint8_t *at = stored + hs;
    int rc = TT_OK;
    for (size_t j = 0; j < s && rc == TT_OK; j++) {
        size_t len = tt_rd32(stored + FS_HEADER_FIXED + 4 * j);
        uint8_t *out = scratch + j * c;
        if (len == c && !(j == 0 && model == 1)) {
            plane[j] = at; /* stored as it is: used in place */
        } else if (len == c) {
            memcpy(out, at, c); /* the row model writes the symbols back */
            plane[j] = out;
        } else {
            if (!d && !(d = own = ZSTD_createDCtx()))
                rc = tt_errf(err, errlen, TT_E_NOMEM, "cannot allocate a zstd context");
            else
                rc = inflate_stream(d, at, len, out, c, j, err, errlen);
            plane[j] = out;
        }
        at += len;
    }
    ZSTD_freeDCtx(own);
    if (rc != TT_OK)
        return rc;
    if (model == 1 && width < c)
        undelta_rows(scratch, c, width);
    if (s == 1)
        memcpy(dst, plane[0], c);
    else if (s == 2)
        join2(plane[0], plane[1], c, L, dst);
    else
        join4(plane, c, L, dst);
    memcpy(dst + c * s, at, t);
    return TT_OK;
}
