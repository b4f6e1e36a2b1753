/*
 * shuffle.c — the byte-shuffle filter: bytes of equal significance of consecutive elements are grouped, so
 * that the slowly varying high bytes of floating-point activations (sign and exponent) form long compressible
 * runs, apart from the noisy low mantissa bytes. Specialised loops for 2- and 4-byte elements, the common
 * cases (bf16/f16, f32), which the compiler vectorises; a generic loop for the rest.
 */
#include "frame.h"

#include <string.h>

void tt_shuffle_bytes(const uint8_t *src, uint8_t *dst, size_t n, size_t esize)
{
    if (esize < 2) {
        memcpy(dst, src, n);
        return;
    }
    size_t count = n / esize;
    if (esize == 2) {
        uint8_t *d0 = dst, *d1 = dst + count;
        for (size_t i = 0; i < count; i++) {
            d0[i] = src[2 * i];
            d1[i] = src[2 * i + 1];
        }
    } else if (esize == 4) {
        uint8_t *d0 = dst, *d1 = dst + count, *d2 = dst + 2 * count, *d3 = dst + 3 * count;
        for (size_t i = 0; i < count; i++) {
            d0[i] = src[4 * i];
            d1[i] = src[4 * i + 1];
            d2[i] = src[4 * i + 2];
            d3[i] = src[4 * i + 3];
        }
    } else {
        for (size_t j = 0; j < esize; j++) {
            uint8_t *d = dst + j * count;
            for (size_t i = 0; i < count; i++)
                d[i] = src[i * esize + j];
        }
    }
    memcpy(dst + count * esize, src + count * esize, n - count * esize);
}

void tt_unshuffle_bytes(const uint8_t *src, uint8_t *dst, size_t n, size_t esize)
{
    if (esize < 2) {
        memcpy(dst, src, n);
        return;
    }
    size_t count = n / esize;
    if (esize == 2) {
        const uint8_t *s0 = src, *s1 = src + count;
        for (size_t i = 0; i < count; i++) {
            dst[2 * i] = s0[i];
            dst[2 * i + 1] = s1[i];
        }
    } else if (esize == 4) {
        const uint8_t *s0 = src, *s1 = src + count, *s2 = src + 2 * count, *s3 = src + 3 * count;
        for (size_t i = 0; i < count; i++) {
            dst[4 * i] = s0[i];
            dst[4 * i + 1] = s1[i];
            dst[4 * i + 2] = s2[i];
            dst[4 * i + 3] = s3[i];
        }
    } else {
        for (size_t j = 0; j < esize; j++) {
            const uint8_t *s = src + j * count;
            for (size_t i = 0; i < count; i++)
                dst[i * esize + j] = s[i];
        }
    }
    memcpy(dst + count * esize, src + count * esize, n - count * esize);
}
