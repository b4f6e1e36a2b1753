/*
 * engine.c — tinylm's forward passes: tl_prefill() over a prompt and tl_decode() of one token with the KV cache,
 * and the capture point of every stage. Both passes have the same shape, stage for stage, so the two can be read
 * side by side; they differ in their kernels (tl_mm vs tl_mv, tl_attn_prefill vs tl_attn_decode) and in where the
 * bug switches act.
 *
 * Capture order within a layer (the pipeline order a differ should use for tinylm traces):
 *   residual_pre_attn attn_norm_out q_pre_rope k_pre_rope v q_post_rope k_post_rope k_cache v_cache
 *   attn_scores attn_probs attn_out residual_post_attn ffn_norm_in mlp_out residual_post_mlp
 * (libtrace's default stage order for the differ, TT_DIFF_DEFAULT_STAGES in tt/diff.h, is the same).
 * preceded by embed_out and followed by logits (layer -1). ffn_norm_in is the FFN's input, i.e. the output of the
 * FFN RMSNorm (the tensor the MLP reads).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "kernels.h"
#include "tinylm.h"
#include "trace.h"

/* Activation buffers for n rows. */
typedef struct work {
    float *x, *h, *q, *k, *v, *scores, *probs, *att, *y, *gate, *up, *logits, *acc;
    float *block;
} work;

/* Buffers for n rows attending over kv_len keys, with logit_rows rows of logits. */
static int work_alloc(work *w, const tl_config *c, int n, int kv_len, int logit_rows)
{
    const size_t N = (size_t)n, H = (size_t)c->hidden, QD = (size_t)c->heads * c->head_dim;
    const size_t KVD = (size_t)c->kv_heads * c->head_dim, F = (size_t)c->ffn;
    const size_t S = N * (size_t)c->heads * (size_t)kv_len;
    const size_t total = N * H * 3 + N * QD * 2 + N * KVD * 2 + S * 2 + N * F * 2 +
                         (size_t)logit_rows * c->vocab + (size_t)c->head_dim;
    w->block = malloc(total * sizeof(float));
    if (!w->block)
        return -1;
    float *p = w->block;
#define TAKE(n_) (p += (n_), p - (n_))
    w->x = TAKE(N * H);
    w->h = TAKE(N * H);
    w->y = TAKE(N * H);
    w->q = TAKE(N * QD);
    w->att = TAKE(N * QD);
    w->k = TAKE(N * KVD);
    w->v = TAKE(N * KVD);
    w->scores = TAKE(S);
    w->probs = TAKE(S);
    w->gate = TAKE(N * F);
    w->up = TAKE(N * F);
    w->logits = TAKE((size_t)logit_rows * c->vocab);
    w->acc = TAKE((size_t)c->head_dim);
#undef TAKE
    return 0;
}

static float attn_scale(const tl_config *c, int decode)
{
    if (decode && c->bug == TL_BUG_SOFTMAX_SCALE)
        return (float)(1.0 / (double)c->head_dim); /* the bug: 1/d instead of 1/sqrt(d) */
    return (float)(1.0 / sqrt((double)c->head_dim));
}

static float norm_eps(const tl_config *c, int decode)
{
    return decode && c->bug == TL_BUG_NORM_EPS ? TL_BUG_NORM_EPS_VALUE : c->rms_eps;
}

static int embed(const tl_model *m, const int32_t *tokens, int n, float *x)
{
    const size_t H = (size_t)m->cfg.hidden;
    for (int r = 0; r < n; r++) {
        if (tokens[r] < 0 || tokens[r] >= m->cfg.vocab)
            return -1;
        memcpy(x + (size_t)r * H, m->embed + (size_t)tokens[r] * H, H * sizeof(float));
    }
    return 0;
}

int tl_prefill(const tl_model *m, tl_cache *cache, const int32_t *tokens, int n, tl_rec *rec, float *logits_out)
{
    const tl_config *c = &m->cfg;
    if (n < 1 || n > cache->capacity)
        return -1;
    const int full_logits = rec && rec->emit_full;
    work w;
    if (work_alloc(&w, c, n, n, full_logits ? n : 1) < 0)
        return -1;
    const int H = c->hidden, QD = c->heads * c->head_dim, KVD = c->kv_heads * c->head_dim, F = c->ffn;
    const int bf = c->bf16;
    const size_t N = (size_t)n;
    const uint64_t sh_h[1] = {(uint64_t)H}, sh_q[1] = {(uint64_t)QD}, sh_kv[1] = {(uint64_t)KVD};
    const uint64_t sh_s[2] = {(uint64_t)c->heads, (uint64_t)n}, sh_v[1] = {(uint64_t)c->vocab};
    const float eps = norm_eps(c, 0), scale = attn_scale(c, 0);

    if (embed(m, tokens, n, w.x) < 0) {
        free(w.block);
        return -1;
    }
    tl_trace_rows(rec, "embed_out", -1, w.x, n, 1, sh_h);

    for (int l = 0; l < c->layers; l++) {
        const tl_layer *L = &m->layer[l];
        float *kc = cache->k + (size_t)l * cache->capacity * KVD;
        float *vc = cache->v + (size_t)l * cache->capacity * KVD;

        tl_trace_rows(rec, "residual_pre_attn", l, w.x, n, 1, sh_h);
        tl_rmsnorm(w.h, w.x, L->attn_norm, n, H, eps);
        tl_round(w.h, N * H, bf);
        tl_trace_rows(rec, "attn_norm_out", l, w.h, n, 1, sh_h);

        /* The Q/K/V projections (one fused GEMM in most engines), then RoPE on q and k. */
        tl_mm(w.q, w.h, L->wq, n, H, QD);
        tl_round(w.q, N * QD, bf);
        tl_trace_rows(rec, "q_pre_rope", l, w.q, n, 1, sh_q);
        tl_mm(w.k, w.h, L->wk, n, H, KVD);
        tl_round(w.k, N * KVD, bf);
        tl_trace_rows(rec, "k_pre_rope", l, w.k, n, 1, sh_kv);
        tl_mm(w.v, w.h, L->wv, n, H, KVD);
        tl_round(w.v, N * KVD, bf);
        tl_trace_rows(rec, "v", l, w.v, n, 1, sh_kv);

        tl_rope(w.q, n, c->heads, c->head_dim, 0, c->rope_theta);
        tl_round(w.q, N * QD, bf);
        tl_trace_rows(rec, "q_post_rope", l, w.q, n, 1, sh_q);
        tl_rope(w.k, n, c->kv_heads, c->head_dim, 0, c->rope_theta);
        tl_round(w.k, N * KVD, bf);
        tl_trace_rows(rec, "k_post_rope", l, w.k, n, 1, sh_kv);

        memcpy(kc, w.k, N * KVD * sizeof(float));
        memcpy(vc, w.v, N * KVD * sizeof(float));
        tl_trace_cache(rec, "k_cache", l, kc, n, KVD);
        tl_trace_cache(rec, "v_cache", l, vc, n, KVD);

        tl_attn_prefill(c, w.q, kc, vc, n, scale, c->bug == TL_BUG_MASK ? 1 : 0, w.scores, w.probs, w.att);
        tl_trace_rows(rec, "attn_scores", l, w.scores, n, 2, sh_s);
        tl_trace_rows(rec, "attn_probs", l, w.probs, n, 2, sh_s);
        tl_round(w.att, N * QD, bf);

        tl_mm(w.y, w.att, L->wo, n, QD, H);
        tl_round(w.y, N * H, bf);
        tl_trace_rows(rec, "attn_out", l, w.y, n, 1, sh_h);
        tl_add(w.x, w.y, N * H);
        tl_round(w.x, N * H, bf);
        tl_trace_rows(rec, "residual_post_attn", l, w.x, n, 1, sh_h);

        tl_rmsnorm(w.h, w.x, L->ffn_norm, n, H, eps);
        tl_round(w.h, N * H, bf);
        tl_trace_rows(rec, "ffn_norm_in", l, w.h, n, 1, sh_h);
        tl_mm(w.gate, w.h, L->w_gate, n, H, F);
        tl_round(w.gate, N * F, bf);
        tl_mm(w.up, w.h, L->w_up, n, H, F);
        tl_round(w.up, N * F, bf);
        tl_swiglu(w.gate, w.gate, w.up, N * F);
        tl_round(w.gate, N * F, bf);
        tl_mm(w.y, w.gate, L->w_down, n, F, H);
        tl_round(w.y, N * H, bf);
        tl_trace_rows(rec, "mlp_out", l, w.y, n, 1, sh_h);
        tl_add(w.x, w.y, N * H);
        tl_round(w.x, N * H, bf);
        tl_trace_rows(rec, "residual_post_mlp", l, w.x, n, 1, sh_h);
    }

    tl_rmsnorm(w.h, w.x, m->final_norm, n, H, eps);
    tl_round(w.h, N * H, bf);
    /* Engines compute the logits of the last row only; with a full-prefill capture every row's are computed
     * (row-independent kernel: the last row is the same either way). */
    int lrows = full_logits ? n : 1;
    tl_mm(w.logits, w.h + (N - (size_t)lrows) * H, m->lm_head, lrows, H, c->vocab);
    tl_round(w.logits, (size_t)lrows * c->vocab, bf);
    if (full_logits) {
        tl_trace_rows(rec, "logits", -1, w.logits, n, 1, sh_v);
    } else {
        tl_trace_last(rec, "logits", -1, w.logits, n, 1, sh_v);
    }
    if (logits_out)
        memcpy(logits_out, w.logits + (size_t)(lrows - 1) * c->vocab, (size_t)c->vocab * sizeof(float));
    free(w.block);
    return 0;
}

int tl_decode(const tl_model *m, tl_cache *cache, int32_t token, int pos, tl_rec *rec, float *logits_out)
{
    const tl_config *c = &m->cfg;
    /* The kv-offset bug writes one row further: it needs that row to exist. */
    const int write_row = c->bug == TL_BUG_KV_OFFSET ? pos + 1 : pos;
    if (pos < 0 || write_row >= cache->capacity)
        return -1;
    work w;
    if (work_alloc(&w, c, 1, pos + 1, 1) < 0)
        return -1;
    const int H = c->hidden, QD = c->heads * c->head_dim, KVD = c->kv_heads * c->head_dim, F = c->ffn;
    const int bf = c->bf16, kv_len = pos + 1;
    const uint64_t sh_h[1] = {(uint64_t)H}, sh_q[1] = {(uint64_t)QD}, sh_kv[1] = {(uint64_t)KVD};
    const uint64_t sh_s[2] = {(uint64_t)c->heads, (uint64_t)kv_len}, sh_v[1] = {(uint64_t)c->vocab};
    const float eps = norm_eps(c, 1), scale = attn_scale(c, 1);
    const int rope_pos = c->bug == TL_BUG_ROPE_POS ? pos + 1 : pos;

    if (embed(m, &token, 1, w.x) < 0) {
        free(w.block);
        return -1;
    }
    tl_trace_rows(rec, "embed_out", -1, w.x, 1, 1, sh_h);

    for (int l = 0; l < c->layers; l++) {
        const tl_layer *L = &m->layer[l];
        float *kc = cache->k + (size_t)l * cache->capacity * KVD;
        float *vc = cache->v + (size_t)l * cache->capacity * KVD;

        tl_trace_rows(rec, "residual_pre_attn", l, w.x, 1, 1, sh_h);
        tl_rmsnorm(w.h, w.x, L->attn_norm, 1, H, eps);
        tl_round(w.h, (size_t)H, bf);
        tl_trace_rows(rec, "attn_norm_out", l, w.h, 1, 1, sh_h);

        tl_mv(w.q, w.h, L->wq, H, QD);
        tl_round(w.q, (size_t)QD, bf);
        tl_trace_rows(rec, "q_pre_rope", l, w.q, 1, 1, sh_q);
        tl_mv(w.k, w.h, L->wk, H, KVD);
        tl_round(w.k, (size_t)KVD, bf);
        tl_trace_rows(rec, "k_pre_rope", l, w.k, 1, 1, sh_kv);
        tl_mv(w.v, w.h, L->wv, H, KVD);
        tl_round(w.v, (size_t)KVD, bf);
        tl_trace_rows(rec, "v", l, w.v, 1, 1, sh_kv);

        tl_rope(w.q, 1, c->heads, c->head_dim, rope_pos, c->rope_theta);
        tl_round(w.q, (size_t)QD, bf);
        tl_trace_rows(rec, "q_post_rope", l, w.q, 1, 1, sh_q);
        tl_rope(w.k, 1, c->kv_heads, c->head_dim, rope_pos, c->rope_theta);
        tl_round(w.k, (size_t)KVD, bf);
        tl_trace_rows(rec, "k_post_rope", l, w.k, 1, 1, sh_kv);

        memcpy(kc + (size_t)write_row * KVD, w.k, (size_t)KVD * sizeof(float));
        memcpy(vc + (size_t)write_row * KVD, w.v, (size_t)KVD * sizeof(float));
        tl_trace_cache(rec, "k_cache", l, kc, kv_len, KVD);
        tl_trace_cache(rec, "v_cache", l, vc, kv_len, KVD);

        tl_attn_decode(c, w.q, kc, vc, kv_len, scale, w.scores, w.probs, w.att, w.acc);
        tl_trace_rows(rec, "attn_scores", l, w.scores, 1, 2, sh_s);
        tl_trace_rows(rec, "attn_probs", l, w.probs, 1, 2, sh_s);
        tl_round(w.att, (size_t)QD, bf);

        tl_mv(w.y, w.att, L->wo, QD, H);
        tl_round(w.y, (size_t)H, bf);
        tl_trace_rows(rec, "attn_out", l, w.y, 1, 1, sh_h);
        tl_add(w.x, w.y, (size_t)H);
        tl_round(w.x, (size_t)H, bf);
        tl_trace_rows(rec, "residual_post_attn", l, w.x, 1, 1, sh_h);

        tl_rmsnorm(w.h, w.x, L->ffn_norm, 1, H, eps);
        tl_round(w.h, (size_t)H, bf);
        tl_trace_rows(rec, "ffn_norm_in", l, w.h, 1, 1, sh_h);
        tl_mv(w.gate, w.h, L->w_gate, H, F);
        tl_round(w.gate, (size_t)F, bf);
        tl_mv(w.up, w.h, L->w_up, H, F);
        tl_round(w.up, (size_t)F, bf);
        tl_swiglu(w.gate, w.gate, w.up, (size_t)F);
        tl_round(w.gate, (size_t)F, bf);
        tl_mv(w.y, w.gate, L->w_down, F, H);
        tl_round(w.y, (size_t)H, bf);
        tl_trace_rows(rec, "mlp_out", l, w.y, 1, 1, sh_h);
        tl_add(w.x, w.y, (size_t)H);
        tl_round(w.x, (size_t)H, bf);
        tl_trace_rows(rec, "residual_post_mlp", l, w.x, 1, 1, sh_h);
    }

    tl_rmsnorm(w.h, w.x, m->final_norm, 1, H, eps);
    tl_round(w.h, (size_t)H, bf);
    tl_mv(w.logits, w.h, m->lm_head, H, c->vocab);
    tl_round(w.logits, (size_t)c->vocab, bf);
    tl_trace_rows(rec, "logits", -1, w.logits, 1, 1, sh_v);
    if (logits_out)
        memcpy(logits_out, w.logits, (size_t)c->vocab * sizeof(float));
    free(w.block);
    return 0;
}
