/*
 * attention.c — grouped-query causal attention, once per path.
 *
 * Prefill (tl_attn_prefill): for every row i and head h, scores against keys 0..i (Q.K^T with a sequential dot
 * product, times the scale), -inf for the future; a full softmax per row; then P.V summed over keys in order.
 * Future keys are skipped rather than multiplied by zero, and adding the masked zeros to the softmax sum is exact,
 * so row i's result does not depend on how many rows follow it: a prefill over n tokens and one over n+1 give
 * bitwise the same rows 0..n-1.
 *
 * Decode (tl_attn_decode): one query row against cache rows 0..kv_len-1, 4-lane dot products, and an online softmax
 * over blocks of TL_KV_BLOCK keys that accumulates exp-weighted values block by block (flash-decoding style). The
 * probabilities are never materialised by the computation; for the trace they are reconstructed afterwards from
 * the recorded scores and the final running maximum and sum, exp(s - m) / l, as a debugging dump of such a kernel
 * would do.
 *
 * With bf16 storage the scores and the prefill probabilities are rounded to bf16 (they are stored tensors);
 * the decode path's exponential weights stay f32 inside the kernel, as they would in registers.
 */
#include "attention.h"

#include <math.h>

#include "kernels.h"

void tl_attn_prefill(const tl_config *cfg, const float *q, const float *kc, const float *vc, int n, float scale,
                     int mask_lookahead, float *scores, float *probs, float *out)
{
    const int nh = cfg->heads, hd = cfg->head_dim, group = cfg->heads / cfg->kv_heads;
    const size_t QD = (size_t)nh * hd, KVD = (size_t)cfg->kv_heads * hd;
    for (int i = 0; i < n; i++) {
        /* Keys the row may see: 0..i, or 0..i+mask_lookahead under the mask bug. */
        int vis = i + 1 + mask_lookahead;
        if (vis > n)
            vis = n;
        for (int h = 0; h < nh; h++) {
            const float *qi = q + (size_t)i * QD + (size_t)h * hd;
            const size_t koff = (size_t)(h / group) * hd;
            float *s = scores + ((size_t)i * nh + h) * n;
            float *p = probs + ((size_t)i * nh + h) * n;
            for (int j = 0; j < n; j++)
                s[j] = j < vis ? tl_dot_seq(qi, kc + (size_t)j * KVD + koff, hd) * scale : -INFINITY;
            tl_round(s, (size_t)n, cfg->bf16);
            for (int j = 0; j < n; j++)
                p[j] = s[j];
            tl_softmax_row(p, n);
            tl_round(p, (size_t)n, cfg->bf16);
            float *o = out + (size_t)i * QD + (size_t)h * hd;
            for (int d = 0; d < hd; d++) {
                float a = 0.0f;
                for (int j = 0; j < vis; j++)
                    a += p[j] * vc[(size_t)j * KVD + koff + d];
                o[d] = a;
            }
        }
    }
}

void tl_attn_decode(const tl_config *cfg, const float *q, const float *kc, const float *vc, int kv_len, float scale,
                    float *scores, float *probs, float *out, float *acc)
{
    const int nh = cfg->heads, hd = cfg->head_dim, group = cfg->heads / cfg->kv_heads;
    const size_t KVD = (size_t)cfg->kv_heads * hd;
    for (int h = 0; h < nh; h++) {
        const float *qh = q + (size_t)h * hd;
        const size_t koff = (size_t)(h / group) * hd;
        float *s = scores + (size_t)h * kv_len;
        tl_online st;
        tl_online_init(&st, acc, hd);
        for (int j0 = 0; j0 < kv_len; j0 += TL_KV_BLOCK) {
            int nb = kv_len - j0 < TL_KV_BLOCK ? kv_len - j0 : TL_KV_BLOCK;
            for (int j = j0; j < j0 + nb; j++)
                s[j] = tl_dot4(qh, kc + (size_t)j * KVD + koff, hd) * scale;
            tl_round(s + j0, (size_t)nb, cfg->bf16);
            tl_online_block(&st, s + j0, nb, vc + (size_t)j0 * KVD + koff, KVD);
        }
        tl_online_finish(&st, out + (size_t)h * hd);
        float *p = probs + (size_t)h * kv_len;
        for (int j = 0; j < kv_len; j++)
            p[j] = expf(s[j] - st.m) / st.l;
        tl_round(p, (size_t)kv_len, cfg->bf16);
    }
}
