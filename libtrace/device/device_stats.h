/*
 * device_stats.h — the arithmetic of the statistics reduction, shared by the GPU kernels (capture.hip, compiled as
 * HIP or CUDA C++) and by plain C (the pipeline, which turns a result into tt_stats, and the host-side tests, which
 * replay the kernels' exact order of operations and compare with tt_stats_compute()).
 *
 * Definitions are the writer's (tt/common.h): min, max, mean, abs-max and L2 over the finite elements, computed in
 * double; NaN and infinite elements counted apart; with no finite element, the five values are NaN. f32 values are
 * exact in double, and so are f16 and bf16 (decoded bit by bit below, as the host does), so min, max and abs-max
 * equal the host's exactly; the sums (mean, L2) are added in a different order than on the host and may differ in
 * the last bits (relative error of order n * 2^-53).
 *
 * Kernel layout: TT_GPU_STATS_THREADS threads per block, tt_gs_blocks(n) blocks. Thread t of block b accumulates
 * elements t + b*T, t + b*T + G*T, ... (grid stride); a block merges its threads as a binary tree (strides T/2 .. 1);
 * a second kernel of one block merges the block partials the same way. A stats slot holds the result (64 bytes)
 * followed by the partials of at most TT_GPU_STATS_MAX_BLOCKS blocks.
 */
#ifndef TT_DEVICE_STATS_H
#define TT_DEVICE_STATS_H

#include <stdint.h>
#include <string.h>

#include "tt/common.h"

#if defined(__HIPCC__) || defined(__CUDACC__)
#define TT_HD static __host__ __device__ inline
#else
#define TT_HD static inline
#endif

typedef struct tt_gpu_stats {
    double min, max;   /* over finite elements; meaningless while finite == 0 */
    double sum, sumsq; /* over finite elements */
    uint64_t finite, nan, inf;
    uint64_t reserved;
} tt_gpu_stats;

#define TT_GPU_STATS_THREADS 256
#define TT_GPU_STATS_MAX_BLOCKS 256
#define TT_GPU_STATS_PER_THREAD 16 /* elements per thread before another block is added */
#define TT_GPU_STATS_SLOT_BYTES ((uint64_t)(1 + TT_GPU_STATS_MAX_BLOCKS) * sizeof(tt_gpu_stats))

/* The dtypes the kernels reduce; others are copied for the host to reduce. */
TT_HD int tt_gs_supported(int dtype) { return dtype == TT_F32 || dtype == TT_F16 || dtype == TT_BF16; }

/* Blocks for n elements: one per TT_GPU_STATS_THREADS * TT_GPU_STATS_PER_THREAD elements, 1..MAX. */
TT_HD uint32_t tt_gs_blocks(uint64_t n)
{
    uint64_t per = (uint64_t)TT_GPU_STATS_THREADS * TT_GPU_STATS_PER_THREAD;
    uint64_t b = (n + per - 1) / per;
    return b < 1 ? 1u : b > TT_GPU_STATS_MAX_BLOCKS ? (uint32_t)TT_GPU_STATS_MAX_BLOCKS : (uint32_t)b;
}

TT_HD float tt_gs_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE binary16 to float, exactly (subnormals, infinities and NaN included). */
TT_HD float tt_gs_f16(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1fu)
        return tt_gs_from_bits(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        float v = (float)m * 5.9604644775390625e-8f; /* m * 2^-24, exact */
        return sign ? -v : v;
    }
    return tt_gs_from_bits(sign | ((e + 112u) << 23) | (m << 13));
}

TT_HD float tt_gs_bf16(uint16_t h) { return tt_gs_from_bits((uint32_t)h << 16); }

/* Element i of a supported dtype (the pointer is aligned to the element size). */
TT_HD float tt_gs_load(int dtype, const void *p, uint64_t i)
{
    if (dtype == TT_F32)
        return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return dtype == TT_F16 ? tt_gs_f16(h) : tt_gs_bf16(h);
}

TT_HD void tt_gs_init(tt_gpu_stats *a)
{
    a->min = a->max = a->sum = a->sumsq = 0;
    a->finite = a->nan = a->inf = a->reserved = 0;
}

TT_HD void tt_gs_add(tt_gpu_stats *a, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u) {
        if (u & 0x007fffffu)
            a->nan++;
        else
            a->inf++;
        return;
    }
    double x = (double)v;
    if (a->finite == 0) {
        a->min = a->max = x;
    } else {
        a->min = x < a->min ? x : a->min;
        a->max = x > a->max ? x : a->max;
    }
    a->sum += x;
    a->sumsq += x * x;
    a->finite++;
}

/* a = a merged with b (b's sums are added to a's, in this order) */
TT_HD void tt_gs_merge(tt_gpu_stats *a, const tt_gpu_stats *b)
{
    if (b->finite) {
        if (a->finite == 0) {
            a->min = b->min;
            a->max = b->max;
        } else {
            a->min = b->min < a->min ? b->min : a->min;
            a->max = b->max > a->max ? b->max : a->max;
        }
    }
    a->sum += b->sum;
    a->sumsq += b->sumsq;
    a->finite += b->finite;
    a->nan += b->nan;
    a->inf += b->inf;
}

#if !defined(__HIPCC__) && !defined(__CUDACC__)
#include <math.h>

#include "tt/common.h"

/* The writer's statistics from a reduction result (as tt_stats_compute finishes its accumulator). */
static inline void tt_gs_finish(const tt_gpu_stats *a, tt_stats *out)
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

/* The kernels' exact order of operations, on the host: the fake GPU of the tests uses it, so a test that compares
 * it with tt_stats_compute() checks the arithmetic the GPU runs. */
static inline void tt_gs_reduce_host(int dtype, const void *src, uint64_t n, tt_gpu_stats *out)
{
    const uint32_t T = TT_GPU_STATS_THREADS, G = tt_gs_blocks(n);
    tt_gpu_stats part[TT_GPU_STATS_MAX_BLOCKS], s[TT_GPU_STATS_THREADS];
    for (uint32_t b = 0; b < G; b++) {
        for (uint32_t t = 0; t < T; t++) {
            tt_gs_init(&s[t]);
            for (uint64_t i = (uint64_t)b * T + t; i < n; i += (uint64_t)G * T)
                tt_gs_add(&s[t], tt_gs_load(dtype, src, i));
        }
        for (uint32_t stride = T / 2; stride > 0; stride >>= 1)
            for (uint32_t t = 0; t < stride; t++)
                tt_gs_merge(&s[t], &s[t + stride]);
        part[b] = s[0];
    }
    for (uint32_t t = 0; t < T; t++) {
        if (t < G)
            s[t] = part[t];
        else
            tt_gs_init(&s[t]);
    }
    for (uint32_t stride = T / 2; stride > 0; stride >>= 1)
        for (uint32_t t = 0; t < stride; t++)
            tt_gs_merge(&s[t], &s[t + stride]);
    *out = s[0];
}
#endif

#endif /* TT_DEVICE_STATS_H */
