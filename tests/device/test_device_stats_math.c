/*
 * test_device_stats_math.c — the arithmetic the statistics kernels run (device_stats.h), replayed on the host in
 * the kernels' exact order (tt_gs_reduce_host) and compared with the writer's tt_stats_compute(): decoders of f16
 * and bf16 bit for bit over all 65536 values, and the statistics over sizes that exercise one block, many blocks
 * and the block cap, with NaN, infinities, subnormals and signed zeros. min, max, abs-max and the counts must be
 * equal; mean and L2 may differ by the rounding of a different summation order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "device_stats.h"
#include "tt/dtype.h"
#include "tt_test.h"

static int same_float(float a, float b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y;
}

static void test_decoders(void)
{
    int bad16 = 0, badb = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (!same_float(tt_gs_f16((uint16_t)h), tt_f32_from_f16((uint16_t)h)))
            bad16++;
        if (!same_float(tt_gs_bf16((uint16_t)h), tt_f32_from_bf16((uint16_t)h)))
            badb++;
    }
    CHECK_EQ_INT(bad16, 0);
    CHECK_EQ_INT(badb, 0);
}

static void test_blocks(void)
{
    CHECK_EQ_INT(tt_gs_blocks(0), 1);
    CHECK_EQ_INT(tt_gs_blocks(1), 1);
    CHECK_EQ_INT(tt_gs_blocks(4096), 1);
    CHECK_EQ_INT(tt_gs_blocks(4097), 2);
    CHECK_EQ_INT(tt_gs_blocks((uint64_t)1 << 40), TT_GPU_STATS_MAX_BLOCKS);
    CHECK(TT_GPU_STATS_SLOT_BYTES == 64 * (1 + TT_GPU_STATS_MAX_BLOCKS));
    CHECK(sizeof(tt_gpu_stats) == 64);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* n values of dt; `specials` sprinkles NaN, infinities, signed zeros and tiny values. */
static void *make(tt_dtype dt, size_t n, int specials, uint64_t seed)
{
    float *f = malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) {
        f[i] = ((float)(rnd(&seed) % 200001) - 100000.0f) / 3000.0f;
        if (specials) {
            switch (rnd(&seed) % 50) {
            case 0: f[i] = NAN; break;
            case 1: f[i] = INFINITY; break;
            case 2: f[i] = -INFINITY; break;
            case 3: f[i] = -0.0f; break;
            case 4: f[i] = 3e-8f; break; /* a subnormal in f16 */
            default: break;
            }
        }
    }
    void *p = malloc(n * tt_dtype_size(dt) + 4);
    tt_from_f32(dt, f, n, p);
    free(f);
    return p;
}

static void compare(tt_dtype dt, size_t n, int specials, uint64_t seed)
{
    void *p = make(dt, n, specials, seed);
    tt_gpu_stats g;
    tt_stats got, want;
    tt_gs_reduce_host((int)dt, p, n, &g);
    tt_gs_finish(&g, &got);
    CHECK_STATUS(tt_stats_compute(dt, p, n, &want), TT_OK);
    CHECK_EQ_U64(got.nan_count, want.nan_count);
    CHECK_EQ_U64(got.inf_count, want.inf_count);
    CHECK_EQ_U64(g.finite + g.nan + g.inf, n);
    if (isnan(want.min)) {
        CHECK(isnan(got.min) && isnan(got.max) && isnan(got.mean) && isnan(got.absmax) && isnan(got.l2));
    } else {
        CHECK(got.min == want.min);
        CHECK(got.max == want.max);
        CHECK(got.absmax == want.absmax);
        CHECK_NEAR(got.mean, want.mean, 1e-12 * (want.absmax > 1 ? want.absmax : 1));
        CHECK_NEAR(got.l2, want.l2, 1e-12 * (want.l2 > 1 ? want.l2 : 1));
    }
    free(p);
}

static void test_stats(void)
{
    static const tt_dtype dts[] = {TT_F32, TT_F16, TT_BF16};
    static const size_t sizes[] = {0, 1, 7, 255, 256, 257, 4096, 4097, 65537, 1048576 + 3, 3000000};
    for (size_t d = 0; d < 3; d++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            compare(dts[d], sizes[i], 0, 11 + i);
            compare(dts[d], sizes[i], 1, 101 + i);
        }
    /* all NaN: no finite element */
    float nan3[3] = {NAN, NAN, NAN};
    tt_gpu_stats g;
    tt_stats s;
    tt_gs_reduce_host(TT_F32, nan3, 3, &g);
    tt_gs_finish(&g, &s);
    CHECK(isnan(s.min) && isnan(s.l2));
    CHECK_EQ_U64(s.nan_count, 3);
    CHECK(tt_gs_supported(TT_F32) && tt_gs_supported(TT_F16) && tt_gs_supported(TT_BF16));
    CHECK(!tt_gs_supported(TT_F64) && !tt_gs_supported(TT_I8) && !tt_gs_supported(TT_F8_E4M3));
}

int main(void)
{
    test_decoders();
    test_blocks();
    test_stats();
    return tt_test_exit();
}
