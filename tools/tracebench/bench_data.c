/*
 * bench_data.c — the synthetic activations of tracebench (see bench_data.h for why a pool and a patch).
 *
 * The model of a residual-stream activation: x[t][c] = s * z, z ~ N(0, 1), with s the tensor's scale (it stands
 * for the layer: the stream grows with depth), except on a few outlier channels fixed for the whole model (as in
 * the "massive activations" of real LLMs), where x[t][c] = sign_c * m_c * s * (1 + 0.1 z) with m_c drawn once in
 * [20, 100]. Values are rounded to the stored type with tt_from_f32 (round to nearest even), exactly as an engine
 * storing bf16 activations would. Everything comes from splitmix64 seeded by --seed, so a run is reproducible.
 */
#include "bench_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

#define PATCH_ELEMS 8

uint64_t bench_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in the open interval (0, 1): log() below never sees 0. */
static double uniform01(uint64_t *s)
{
    return ((double)(bench_splitmix64(s) >> 11) + 0.5) * 0x1.0p-53;
}

/* n standard normal values by Box-Muller (two per pair of uniforms). */
static void gaussian_fill(uint64_t *s, float *out, size_t n)
{
    const double two_pi = 6.283185307179586;
    for (size_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(uniform01(s))), a = two_pi * uniform01(s);
        out[i] = (float)(r * cos(a));
        if (i + 1 < n)
            out[i + 1] = (float)(r * sin(a));
    }
}

typedef struct outlier {
    uint64_t channel;
    float magnitude; /* signed, 20..100 in absolute value */
} outlier;

/* Distinct channels with their fixed magnitudes, the same for every tensor of the model. */
static void pick_outliers(uint64_t *s, uint64_t hidden, outlier *o, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t c;
        int again;
        do {
            c = bench_splitmix64(s) % hidden;
            again = 0;
            for (uint32_t j = 0; j < i; j++)
                again |= o[j].channel == c;
        } while (again);
        double m = 20.0 + 80.0 * uniform01(s);
        o[i].channel = c;
        o[i].magnitude = (float)((bench_splitmix64(s) & 1) ? m : -m);
    }
}

/* Tensor p of the pool: its scale grows by a non-power-of-two factor per "layer" so mantissas differ too. */
static void fill_tensor(const bench_pool *p, uint32_t index, const outlier *o, uint32_t nout, float *row,
                        uint8_t *dst)
{
    uint64_t s = p->seed ^ (0xD1B54A32D192ED03ull * (index + 1));
    float scale = (float)(0.35 * pow(1.12, (double)index));
    for (uint64_t t = 0; t < p->tokens; t++) {
        gaussian_fill(&s, row, (size_t)p->hidden);
        for (uint64_t c = 0; c < p->hidden; c++)
            row[c] *= scale;
        for (uint32_t i = 0; i < nout; i++) {
            float z = row[o[i].channel] / scale;
            row[o[i].channel] = o[i].magnitude * scale * (1.0f + 0.1f * z);
        }
        tt_from_f32(p->dtype, row, (size_t)p->hidden, dst + t * p->hidden * p->esize);
    }
}

int bench_pool_new(bench_pool *p, tt_dtype dtype, uint64_t tokens, uint64_t hidden, uint32_t count,
                   uint32_t outliers, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->dtype = dtype;
    p->tokens = tokens;
    p->hidden = hidden;
    p->esize = tt_dtype_size(dtype);
    p->tensor_bytes = (size_t)(tokens * hidden * p->esize);
    p->seed = seed;
    if (outliers > hidden)
        outliers = (uint32_t)hidden;
    p->tensor = calloc(count, sizeof *p->tensor);
    float *row = malloc((size_t)hidden * sizeof *row);
    outlier *o = malloc((outliers ? outliers : 1) * sizeof *o);
    int rc = p->tensor && row && o ? 0 : -1;
    if (rc == 0) {
        uint64_t s = seed;
        pick_outliers(&s, hidden, o, outliers);
    }
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        p->tensor[i] = malloc(p->tensor_bytes ? p->tensor_bytes : 1);
        if (!p->tensor[i]) {
            rc = -1;
            break;
        }
        p->count = i + 1;
        fill_tensor(p, i, o, outliers, row, p->tensor[i]);
    }
    free(row);
    free(o);
    return rc;
}

void bench_pool_free(bench_pool *p)
{
    for (uint32_t i = 0; i < p->count; i++)
        free(p->tensor[i]);
    free(p->tensor);
    memset(p, 0, sizeof *p);
}

uint8_t *bench_tensor(const bench_pool *p, uint64_t k)
{
    return p->tensor[k % p->count];
}

void bench_patch(const bench_pool *p, uint64_t k)
{
    uint64_t nelem = p->tokens * p->hidden;
    if (!nelem)
        return;
    uint64_t s = p->seed ^ (k * 0x9E3779B97F4A7C15ull);
    uint32_t n = nelem < PATCH_ELEMS ? (uint32_t)nelem : PATCH_ELEMS;
    uint64_t seg = nelem / n;
    uint8_t *t = bench_tensor(p, k);
    /* element m sits in the m-th of n equal segments, so the positions are distinct; the byte XORed is the
     * element's least significant one (little-endian), so values move by their last bits only (bf16: the
     * exponent's lowest bit too, for 8 elements of a tensor); the first byte XORed is odd, never a no-op */
    for (uint32_t m = 0; m < n; m++) {
        uint64_t r = bench_splitmix64(&s);
        uint64_t e = m * seg + (r >> 8) % seg;
        t[e * p->esize] ^= (uint8_t)r | (m == 0 ? 1u : 0u);
    }
}
