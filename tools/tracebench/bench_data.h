/*
 * bench_data.h — tracebench's synthetic activations: a pool of distinct [tokens, hidden] tensors that look like
 * an LLM's residual stream (Gaussian values, a few fixed outlier channels 20-100x larger, a scale per tensor that
 * stands for the layer), generated once before anything is timed, and a cheap per-put "patch" that makes every
 * put's bytes different without touching more than a few elements.
 *
 * Why a pool: the benchmark must measure the writer's memory, not its own. A pool of a few tensors reused round
 * robin keeps the tool's footprint small and fixed whatever --size is, and since the writer compresses every
 * chunk on its own (and plain zstd -1 has a 512 KiB window), a tensor seen again tensors later gains nothing
 * from the repetition. The patch XORs 8 bytes derived from the put number into the low byte of 8 elements, so
 * put k is a pure function of (pool tensor k % n, k): it is applied before the put and undone after, and the
 * reader's bytes can be checked against the pool the same way.
 *
 * Ownership: a bench_pool owns its tensors; free it with bench_pool_free().
 */
#ifndef TRACEBENCH_DATA_H
#define TRACEBENCH_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "tt/common.h"

typedef struct bench_pool {
    tt_dtype dtype;
    uint64_t tokens, hidden;
    size_t esize;
    size_t tensor_bytes; /* tokens * hidden * esize */
    uint32_t count;      /* distinct tensors */
    uint8_t **tensor;    /* count buffers of tensor_bytes */
    uint64_t seed;
} bench_pool;

/*! bench_pool_new() : generates `count` tensors of [tokens, hidden] elements of dtype (TT_BF16 or TT_F32) from
 *  seed. @return : 0, or -1 when memory runs out (pool left empty and freeable). */
int bench_pool_new(bench_pool *p, tt_dtype dtype, uint64_t tokens, uint64_t hidden, uint32_t count,
                   uint32_t outliers, uint64_t seed);
void bench_pool_free(bench_pool *p);

/*! bench_tensor() : the pool tensor that put number k uses. */
uint8_t *bench_tensor(const bench_pool *p, uint64_t k);

/*! bench_patch() : XORs put k's patch into the pool tensor that put k uses. Applying it twice undoes it. */
void bench_patch(const bench_pool *p, uint64_t k);

/*! bench_splitmix64() : the generator's PRNG step (state advanced in place). */
uint64_t bench_splitmix64(uint64_t *state);

#endif /* TRACEBENCH_DATA_H */
