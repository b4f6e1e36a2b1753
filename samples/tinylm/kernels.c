/*
 * kernels.c — tinylm's numerical kernels (see kernels.h). The reduction order of every kernel is written out on
 * purpose and must not be left to the compiler: the project builds without -ffast-math and tinylm's CMakeLists
 * adds -ffp-contract=off, so a sum is computed exactly in the order the loop states. That order is what makes the
 * prefill and decode paths differ (by a little), and what makes the prefill kernels row-independent.
 */
#include "kernels.h"

#include <math.h>
#include <string.h>

float tl_bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return f; /* NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}

void tl_round(float *x, size_t n, int bf16)
{
    if (!bf16)
        return;
    for (size_t i = 0; i < n; i++)
        x[i] = tl_bf16_round(x[i]);
}

/* Tile sizes of the prefill matmul. They change the memory access pattern only, never the order of a sum. */
#define MM_TR 4
#define MM_TC 4

static void mm_tile_full(float *y, const float *x, const float *w, int in, int out, int r0, int c0)
{
    float acc[MM_TR][MM_TC] = {{0}};
    const float *x0 = x + (size_t)r0 * in, *w0 = w + (size_t)c0 * in;
    for (int k = 0; k < in; k++)
        for (int r = 0; r < MM_TR; r++)
            for (int c = 0; c < MM_TC; c++)
                acc[r][c] += x0[(size_t)r * in + k] * w0[(size_t)c * in + k];
    for (int r = 0; r < MM_TR; r++)
        for (int c = 0; c < MM_TC; c++)
            y[(size_t)(r0 + r) * out + c0 + c] = acc[r][c];
}

/* A partial tile at the edges: the same per-element sequential sum as mm_tile_full(). */
static void mm_tile_edge(float *y, const float *x, const float *w, int in, int out, int r0, int c0, int nr, int nc)
{
    float acc[MM_TR][MM_TC] = {{0}};
    const float *x0 = x + (size_t)r0 * in, *w0 = w + (size_t)c0 * in;
    for (int k = 0; k < in; k++)
        for (int r = 0; r < nr; r++)
            for (int c = 0; c < nc; c++)
                acc[r][c] += x0[(size_t)r * in + k] * w0[(size_t)c * in + k];
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++)
            y[(size_t)(r0 + r) * out + c0 + c] = acc[r][c];
}

void tl_mm(float *y, const float *x, const float *w, int rows, int in, int out)
{
    for (int r0 = 0; r0 < rows; r0 += MM_TR) {
        int nr = rows - r0 < MM_TR ? rows - r0 : MM_TR;
        for (int c0 = 0; c0 < out; c0 += MM_TC) {
            int nc = out - c0 < MM_TC ? out - c0 : MM_TC;
            if (nr == MM_TR && nc == MM_TC)
                mm_tile_full(y, x, w, in, out, r0, c0);
            else
                mm_tile_edge(y, x, w, in, out, r0, c0, nr, nc);
        }
    }
}

/* Lane sums combined pairwise: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), as a horizontal SIMD reduction does. */
static float tree8(const float l[8])
{
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

void tl_mv(float *y, const float *x, const float *w, int in, int out)
{
    for (int o = 0; o < out; o++) {
        const float *wr = w + (size_t)o * in;
        float lane[8] = {0};
        int k = 0;
        for (; k + 8 <= in; k += 8)
            for (int l = 0; l < 8; l++)
                lane[l] += x[k + l] * wr[k + l];
        for (; k < in; k++)
            lane[k & 7] += x[k] * wr[k];
        y[o] = tree8(lane);
    }
}

float tl_dot_seq(const float *a, const float *b, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

float tl_dot4(const float *a, const float *b, int n)
{
    float l[4] = {0};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++)
            l[j] += a[i + j] * b[i + j];
    for (; i < n; i++)
        l[i & 3] += a[i] * b[i];
    return (l[0] + l[2]) + (l[1] + l[3]);
}

void tl_rmsnorm(float *y, const float *x, const float *gamma, int rows, int n, float eps)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        float ss = 0.0f;
        for (int i = 0; i < n; i++)
            ss += xr[i] * xr[i];
        float inv = 1.0f / sqrtf(ss / (float)n + eps);
        for (int i = 0; i < n; i++)
            yr[i] = xr[i] * inv * gamma[i];
    }
}

void tl_rope(float *x, int rows, int heads, int head_dim, int pos0, double theta)
{
    int half = head_dim / 2;
    for (int r = 0; r < rows; r++) {
        double pos = (double)(pos0 + r);
        for (int i = 0; i < half; i++) {
            double ang = pos * pow(theta, -2.0 * (double)i / (double)head_dim);
            float c = (float)cos(ang), s = (float)sin(ang);
            for (int h = 0; h < heads; h++) {
                float *v = x + ((size_t)r * heads + h) * head_dim;
                float a = v[i], b = v[i + half];
                v[i] = a * c - b * s;
                v[i + half] = a * s + b * c;
            }
        }
    }
}

void tl_swiglu(float *act, const float *gate, const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        act[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void tl_add(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

void tl_softmax_row(float *p, int n)
{
    float m = -INFINITY;
    for (int j = 0; j < n; j++)
        m = p[j] > m ? p[j] : m;
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        p[j] = p[j] == -INFINITY ? 0.0f : expf(p[j] - m);
        sum += p[j];
    }
    for (int j = 0; j < n; j++)
        p[j] = p[j] / sum;
}

void tl_online_init(tl_online *o, float *acc, int dim)
{
    o->m = -INFINITY;
    o->l = 0.0f;
    o->acc = acc;
    o->dim = dim;
    for (int d = 0; d < dim; d++)
        acc[d] = 0.0f;
}

/* The block's own maximum is used for its exponentials, then the running state is rescaled to the new maximum:
 * the sum of exponentials is formed block by block, not in prefill's single pass. */
void tl_online_block(tl_online *o, const float *s, int n, const float *v, size_t v_stride)
{
    float bm = -INFINITY;
    for (int j = 0; j < n; j++)
        bm = s[j] > bm ? s[j] : bm;
    if (bm == -INFINITY)
        return;
    float m = o->m > bm ? o->m : bm;
    float alpha = o->m == -INFINITY ? 0.0f : expf(o->m - m);
    float beta = expf(bm - m);
    float e[TL_KV_BLOCK], bl = 0.0f;
    for (int j = 0; j < n; j++) {
        e[j] = expf(s[j] - bm);
        bl += e[j];
    }
    o->l = o->l * alpha + bl * beta;
    for (int d = 0; d < o->dim; d++) {
        float a = 0.0f;
        for (int j = 0; j < n; j++)
            a += e[j] * v[(size_t)j * v_stride + d];
        o->acc[d] = o->acc[d] * alpha + a * beta;
    }
    o->m = m;
}

void tl_online_finish(const tl_online *o, float *out)
{
    for (int d = 0; d < o->dim; d++)
        out[d] = o->acc[d] / o->l;
}
