/*
 * kernels.h — tinylm's numerical kernels, in two families on purpose:
 *
 *   prefill: tl_mm() (tiled matrix-matrix, row-independent: an output element is the same sequential sum over k
 *            whatever the batch size), tl_dot_seq(), tl_softmax_row() (max, sum of exponentials, divide);
 *   decode:  tl_mv() (matrix-vector with 8 interleaved partial sums and a tree reduction), tl_dot4() (4-lane
 *            dot product), tl_online_softmax_*() (streaming softmax over blocks of keys).
 *
 * Shared kernels (tl_rmsnorm, tl_rope, tl_swiglu, tl_add, tl_round) are used by both paths, so that the stages
 * computed with them agree bitwise when their inputs do. None of these kernels allocate.
 */
#ifndef TINYLM_KERNELS_H
#define TINYLM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Rounds a float to the nearest bf16 value (ties to even), kept as a float. NaN is returned unchanged. */
float tl_bf16_round(float f);

/* Rounds n values in place to bf16 when bf16 is nonzero; a no-op otherwise (f32 storage). */
void tl_round(float *x, size_t n, int bf16);

/* y[r][o] = sum_k x[r][k] * w[o][k] for rows r, with w [out][in]. Tiled 4x4; each element is one sequential sum
 * over k, so row r's result does not depend on how many rows are in the batch. */
void tl_mm(float *y, const float *x, const float *w, int rows, int in, int out);

/* y[o] = sum_k x[k] * w[o][k], summed as 8 interleaved partial sums combined by a tree (a SIMD GEMV's order). */
void tl_mv(float *y, const float *x, const float *w, int in, int out);

/* Dot products: sequential (prefill's Q.K^T) and 4 interleaved lanes (decode). */
float tl_dot_seq(const float *a, const float *b, int n);
float tl_dot4(const float *a, const float *b, int n);

/* RMSNorm of rows: y = x / sqrt(mean(x^2) + eps) * gamma, the mean of squares summed sequentially. */
void tl_rmsnorm(float *y, const float *x, const float *gamma, int rows, int n, float eps);

/* RoPE ("rotate half" pairing, i with i + head_dim/2) of rows [rows][heads*head_dim] in place; row r is rotated
 * for position pos0 + r. The angles are computed in double and rounded to float once. */
void tl_rope(float *x, int rows, int heads, int head_dim, int pos0, double theta);

/* act[i] = silu(gate[i]) * up[i]. */
void tl_swiglu(float *act, const float *gate, const float *up, size_t n);

/* x[i] += y[i]. */
void tl_add(float *x, const float *y, size_t n);

/* Full softmax of one row over n entries, in place; entries equal to -inf (masked) become 0. The maximum, then
 * the exponentials and their sequential sum, then one division per entry. */
void tl_softmax_row(float *p, int n);

/* Online softmax with a weighted sum of value rows, one block of keys at a time (flash-decoding style). */
typedef struct tl_online {
    float m;    /* running maximum */
    float l;    /* running sum of exp(s - m) */
    float *acc; /* running sum of exp(s - m) * v, [dim] */
    int dim;
} tl_online;

/* Keys per block of the decode attention. */
#define TL_KV_BLOCK 8

void tl_online_init(tl_online *o, float *acc, int dim);
/* Adds a block of n (1..TL_KV_BLOCK) scores s[j] with value rows v + j*v_stride. */
void tl_online_block(tl_online *o, const float *s, int n, const float *v, size_t v_stride);
/* out[d] = acc[d] / l. */
void tl_online_finish(const tl_online *o, float *out);

#endif /* TINYLM_KERNELS_H */
