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
 *
 * Tensor parallelism (tl_tp, tinylm.h): the attention block (projections to the output projection) and the MLP
 * run once per rank on that rank's shard, each ending in a partial sum that the all-reduce (allreduce_add) adds
 * in rank order; the rest runs once. The recorder is told the layout of what follows (tl_rec_layout): the
 * per-rank stages go to that rank's file as shards, the replicated ones to rank 0's file as whole tensors. With
 * one rank the partial sum is the whole result and the all-reduce a copy: the plain engine, bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "kernels.h"
#include "tinylm.h"
#include "trace.h"

/* Activation buffers for n rows (sized for the whole model; a rank's slices use the start of them). y holds a
 * rank's partial sum, sum the all-reduced result. */
typedef struct work {
    float *x, *h, *q, *k, *v, *scores, *probs, *att, *y, *sum, *gate, *up, *logits, *acc;
    float *block;
} work;

/* Buffers for n rows attending over kv_len keys, with logit_rows rows of logits. */
static int work_alloc(work *w, const tl_config *c, int n, int kv_len, int logit_rows)
{
    const size_t N = (size_t)n, H = (size_t)c->hidden, QD = (size_t)c->heads * c->head_dim;
    const size_t KVD = (size_t)c->kv_heads * c->head_dim, F = (size_t)c->ffn;
    const size_t S = N * (size_t)c->heads * (size_t)kv_len;
    const size_t total = N * H * 4 + N * QD * 2 + N * KVD * 2 + S * 2 + N * F * 2 +
                         (size_t)logit_rows * c->vocab + (size_t)c->head_dim;
    w->block = malloc(total * sizeof(float));
    if (!w->block)
        return -1;
    float *p = w->block;
#define TAKE(n_) (p += (n_), p - (n_))
    w->x = TAKE(N * H);
    w->h = TAKE(N * H);
    w->y = TAKE(N * H);
    w->sum = TAKE(N * H);
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

/* The all-reduce, one rank at a time in rank order: sum = y of rank 0, then sum += y of each next rank. */
static void allreduce_add(float *sum, const float *y, size_t n, int rank)
{
    if (rank == 0)
        memcpy(sum, y, n * sizeof(float));
    else
        tl_add(sum, y, n);
}

/* Rank r's attention block over n prefill rows: Q/K/V of its heads from the normed input w->h, RoPE, its KV cache
 * rows, attention, and its partial output projection in w->y. */
static void attn_prefill_rank(const tl_model *M, int l, tl_cache *cache, work *w, int n, tl_rec *rec)
{
    const tl_config *c = &M->cfg;
    const tl_layer *L = &M->layer[l];
    const int H = c->hidden, QD = c->heads * c->head_dim, KVD = c->kv_heads * c->head_dim, bf = c->bf16;
    const size_t N = (size_t)n;
    const uint64_t sh_q[1] = {(uint64_t)QD}, sh_kv[1] = {(uint64_t)KVD}, sh_h[1] = {(uint64_t)H};
    const uint64_t sh_s[2] = {(uint64_t)c->heads, (uint64_t)n};
    float *kc = cache->k + (size_t)l * cache->capacity * KVD;
    float *vc = cache->v + (size_t)l * cache->capacity * KVD;

    /* The Q/K/V projections (one fused GEMM in most engines), then RoPE on q and k. */
    tl_mm(w->q, w->h, L->wq, n, H, QD);
    tl_round(w->q, N * QD, bf);
    tl_rec_layout(rec, TL_LAYOUT_HEADS);
    tl_trace_rows(rec, "q_pre_rope", l, w->q, n, 1, sh_q);
    tl_mm(w->k, w->h, L->wk, n, H, KVD);
    tl_round(w->k, N * KVD, bf);
    tl_rec_layout(rec, TL_LAYOUT_KV_HEADS);
    tl_trace_rows(rec, "k_pre_rope", l, w->k, n, 1, sh_kv);
    tl_mm(w->v, w->h, L->wv, n, H, KVD);
    tl_round(w->v, N * KVD, bf);
    tl_trace_rows(rec, "v", l, w->v, n, 1, sh_kv);

    tl_rope(w->q, n, c->heads, c->head_dim, 0, c->rope_theta);
    tl_round(w->q, N * QD, bf);
    tl_rec_layout(rec, TL_LAYOUT_HEADS);
    tl_trace_rows(rec, "q_post_rope", l, w->q, n, 1, sh_q);
    tl_rope(w->k, n, c->kv_heads, c->head_dim, 0, c->rope_theta);
    tl_round(w->k, N * KVD, bf);
    tl_rec_layout(rec, TL_LAYOUT_KV_HEADS);
    tl_trace_rows(rec, "k_post_rope", l, w->k, n, 1, sh_kv);

    memcpy(kc, w->k, N * KVD * sizeof(float));
    memcpy(vc, w->v, N * KVD * sizeof(float));
    tl_trace_cache(rec, "k_cache", l, kc, n, KVD);
    tl_trace_cache(rec, "v_cache", l, vc, n, KVD);

    tl_attn_prefill(c, w->q, kc, vc, n, attn_scale(c, 0), c->bug == TL_BUG_MASK ? 1 : 0, w->scores, w->probs,
                    w->att);
    tl_rec_layout(rec, TL_LAYOUT_HEADS);
    tl_trace_rows(rec, "attn_scores", l, w->scores, n, 2, sh_s);
    tl_trace_rows(rec, "attn_probs", l, w->probs, n, 2, sh_s);
    tl_round(w->att, N * QD, bf);

    tl_mm(w->y, w->att, L->wo, n, QD, H);
    tl_round(w->y, N * H, bf);
    tl_rec_layout(rec, TL_LAYOUT_PARTIAL);
    tl_trace_rows(rec, "attn_out", l, w->y, n, 1, sh_h);
}

/* Rank r's MLP over n prefill rows: its gate/up columns, SwiGLU, and its partial down projection in w->y. */
static void mlp_prefill_rank(const tl_model *M, int l, work *w, int n, tl_rec *rec)
{
    const tl_config *c = &M->cfg;
    const tl_layer *L = &M->layer[l];
    const int H = c->hidden, F = c->ffn, bf = c->bf16;
    const size_t N = (size_t)n;
    const uint64_t sh_h[1] = {(uint64_t)H};
    tl_mm(w->gate, w->h, L->w_gate, n, H, F);
    tl_round(w->gate, N * F, bf);
    tl_mm(w->up, w->h, L->w_up, n, H, F);
    tl_round(w->up, N * F, bf);
    tl_swiglu(w->gate, w->gate, w->up, N * F);
    tl_round(w->gate, N * F, bf);
    tl_mm(w->y, w->gate, L->w_down, n, F, H);
    tl_round(w->y, N * H, bf);
    tl_rec_layout(rec, TL_LAYOUT_PARTIAL);
    tl_trace_rows(rec, "mlp_out", l, w->y, n, 1, sh_h);
}

int tl_prefill(const tl_tp *tp, tl_cache *const *caches, const int32_t *tokens, int n, tl_rec *rec,
               float *logits_out)
{
    const tl_model *m = &tp->full;
    const tl_config *c = &m->cfg;
    for (int r = 0; r < tp->n; r++)
        if (n < 1 || n > caches[r]->capacity)
            return -1;
    const int full_logits = rec && rec->emit_full;
    work w;
    if (work_alloc(&w, c, n, n, full_logits ? n : 1) < 0)
        return -1;
    const int H = c->hidden, bf = c->bf16;
    const size_t N = (size_t)n;
    const uint64_t sh_h[1] = {(uint64_t)H}, sh_v[1] = {(uint64_t)c->vocab};
    const float eps = norm_eps(c, 0);

    if (embed(m, tokens, n, w.x) < 0) {
        free(w.block);
        return -1;
    }
    tl_rec_rank(rec, TL_REPLICATED);
    tl_trace_rows(rec, "embed_out", -1, w.x, n, 1, sh_h);

    for (int l = 0; l < c->layers; l++) {
        const tl_layer *L = &m->layer[l];
        tl_trace_rows(rec, "residual_pre_attn", l, w.x, n, 1, sh_h);
        tl_rmsnorm(w.h, w.x, L->attn_norm, n, H, eps);
        tl_round(w.h, N * H, bf);
        tl_trace_rows(rec, "attn_norm_out", l, w.h, n, 1, sh_h);

        for (int r = 0; r < tp->n; r++) {
            tl_rec_rank(rec, r);
            attn_prefill_rank(&tp->rank[r], l, caches[r], &w, n, rec);
            allreduce_add(w.sum, w.y, N * H, r);
        }
        tl_rec_rank(rec, TL_REPLICATED);
        tl_round(w.sum, N * H, bf);
        tl_add(w.x, w.sum, N * H);
        tl_round(w.x, N * H, bf);
        tl_trace_rows(rec, "residual_post_attn", l, w.x, n, 1, sh_h);

        tl_rmsnorm(w.h, w.x, L->ffn_norm, n, H, eps);
        tl_round(w.h, N * H, bf);
        tl_trace_rows(rec, "ffn_norm_in", l, w.h, n, 1, sh_h);
        for (int r = 0; r < tp->n; r++) {
            tl_rec_rank(rec, r);
            mlp_prefill_rank(&tp->rank[r], l, &w, n, rec);
            allreduce_add(w.sum, w.y, N * H, r);
        }
        tl_rec_rank(rec, TL_REPLICATED);
        tl_round(w.sum, N * H, bf);
        tl_add(w.x, w.sum, N * H);
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

/* The cache row a decode step writes its K/V to: pos, or pos + 1 under the kv-offset bug. */
static int decode_write_row(const tl_config *c, int pos)
{
    return c->bug == TL_BUG_KV_OFFSET ? pos + 1 : pos;
}

/* Rank r's attention block of one decode step at position pos, as attn_prefill_rank() with the decode kernels. */
static void attn_decode_rank(const tl_model *M, int l, tl_cache *cache, work *w, int pos, tl_rec *rec)
{
    const tl_config *c = &M->cfg;
    const tl_layer *L = &M->layer[l];
    const int H = c->hidden, QD = c->heads * c->head_dim, KVD = c->kv_heads * c->head_dim, bf = c->bf16;
    const int kv_len = pos + 1, write_row = decode_write_row(c, pos);
    const int rope_pos = c->bug == TL_BUG_ROPE_POS ? pos + 1 : pos;
    const uint64_t sh_q[1] = {(uint64_t)QD}, sh_kv[1] = {(uint64_t)KVD}, sh_h[1] = {(uint64_t)H};
    const uint64_t sh_s[2] = {(uint64_t)c->heads, (uint64_t)kv_len};
    float *kc = cache->k + (size_t)l * cache->capacity * KVD;
    float *vc = cache->v + (size_t)l * cache->capacity * KVD;

    tl_mv(w->q, w->h, L->wq, H, QD);
    tl_round(w->q, (size_t)QD, bf);
    tl_rec_layout(rec, TL_LAYOUT_HEADS);
    tl_trace_rows(rec, "q_pre_rope", l, w->q, 1, 1, sh_q);
    tl_mv(w->k, w->h, L->wk, H, KVD);
    tl_round(w->k, (size_t)KVD, bf);
    tl_rec_layout(rec, TL_LAYOUT_KV_HEADS);
    tl_trace_rows(rec, "k_pre_rope", l, w->k, 1, 1, sh_kv);
    tl_mv(w->v, w->h, L->wv, H, KVD);
    tl_round(w->v, (size_t)KVD, bf);
    tl_trace_rows(rec, "v", l, w->v, 1, 1, sh_kv);

    tl_rope(w->q, 1, c->heads, c->head_dim, rope_pos, c->rope_theta);
    tl_round(w->q, (size_t)QD, bf);
    tl_rec_layout(rec, TL_LAYOUT_HEADS);
    tl_trace_rows(rec, "q_post_rope", l, w->q, 1, 1, sh_q);
    tl_rope(w->k, 1, c->kv_heads, c->head_dim, rope_pos, c->rope_theta);
    tl_round(w->k, (size_t)KVD, bf);
    tl_rec_layout(rec, TL_LAYOUT_KV_HEADS);
    tl_trace_rows(rec, "k_post_rope", l, w->k, 1, 1, sh_kv);

    memcpy(kc + (size_t)write_row * KVD, w->k, (size_t)KVD * sizeof(float));
    memcpy(vc + (size_t)write_row * KVD, w->v, (size_t)KVD * sizeof(float));
    tl_trace_cache(rec, "k_cache", l, kc, kv_len, KVD);
    tl_trace_cache(rec, "v_cache", l, vc, kv_len, KVD);

    tl_attn_decode(c, w->q, kc, vc, kv_len, attn_scale(c, 1), w->scores, w->probs, w->att, w->acc);
    tl_rec_layout(rec, TL_LAYOUT_HEADS);
    tl_trace_rows(rec, "attn_scores", l, w->scores, 1, 2, sh_s);
    tl_trace_rows(rec, "attn_probs", l, w->probs, 1, 2, sh_s);
    tl_round(w->att, (size_t)QD, bf);

    tl_mv(w->y, w->att, L->wo, QD, H);
    tl_round(w->y, (size_t)H, bf);
    tl_rec_layout(rec, TL_LAYOUT_PARTIAL);
    tl_trace_rows(rec, "attn_out", l, w->y, 1, 1, sh_h);
}

/* Rank r's MLP of one decode step. */
static void mlp_decode_rank(const tl_model *M, int l, work *w, tl_rec *rec)
{
    const tl_config *c = &M->cfg;
    const tl_layer *L = &M->layer[l];
    const int H = c->hidden, F = c->ffn, bf = c->bf16;
    const uint64_t sh_h[1] = {(uint64_t)H};
    tl_mv(w->gate, w->h, L->w_gate, H, F);
    tl_round(w->gate, (size_t)F, bf);
    tl_mv(w->up, w->h, L->w_up, H, F);
    tl_round(w->up, (size_t)F, bf);
    tl_swiglu(w->gate, w->gate, w->up, (size_t)F);
    tl_round(w->gate, (size_t)F, bf);
    tl_mv(w->y, w->gate, L->w_down, F, H);
    tl_round(w->y, (size_t)H, bf);
    tl_rec_layout(rec, TL_LAYOUT_PARTIAL);
    tl_trace_rows(rec, "mlp_out", l, w->y, 1, 1, sh_h);
}

int tl_decode(const tl_tp *tp, tl_cache *const *caches, int32_t token, int pos, tl_rec *rec, float *logits_out)
{
    const tl_model *m = &tp->full;
    const tl_config *c = &m->cfg;
    /* The kv-offset bug writes one row further: it needs that row to exist. */
    for (int r = 0; r < tp->n; r++)
        if (pos < 0 || decode_write_row(&tp->rank[r].cfg, pos) >= caches[r]->capacity)
            return -1;
    work w;
    if (work_alloc(&w, c, 1, pos + 1, 1) < 0)
        return -1;
    const int H = c->hidden, bf = c->bf16;
    const uint64_t sh_h[1] = {(uint64_t)H}, sh_v[1] = {(uint64_t)c->vocab};
    const float eps = norm_eps(c, 1);

    if (embed(m, &token, 1, w.x) < 0) {
        free(w.block);
        return -1;
    }
    tl_rec_rank(rec, TL_REPLICATED);
    tl_trace_rows(rec, "embed_out", -1, w.x, 1, 1, sh_h);

    for (int l = 0; l < c->layers; l++) {
        const tl_layer *L = &m->layer[l];
        tl_trace_rows(rec, "residual_pre_attn", l, w.x, 1, 1, sh_h);
        tl_rmsnorm(w.h, w.x, L->attn_norm, 1, H, eps);
        tl_round(w.h, (size_t)H, bf);
        tl_trace_rows(rec, "attn_norm_out", l, w.h, 1, 1, sh_h);

        for (int r = 0; r < tp->n; r++) {
            tl_rec_rank(rec, r);
            attn_decode_rank(&tp->rank[r], l, caches[r], &w, pos, rec);
            allreduce_add(w.sum, w.y, (size_t)H, r);
        }
        tl_rec_rank(rec, TL_REPLICATED);
        tl_round(w.sum, (size_t)H, bf);
        tl_add(w.x, w.sum, (size_t)H);
        tl_round(w.x, (size_t)H, bf);
        tl_trace_rows(rec, "residual_post_attn", l, w.x, 1, 1, sh_h);

        tl_rmsnorm(w.h, w.x, L->ffn_norm, 1, H, eps);
        tl_round(w.h, (size_t)H, bf);
        tl_trace_rows(rec, "ffn_norm_in", l, w.h, 1, 1, sh_h);
        for (int r = 0; r < tp->n; r++) {
            tl_rec_rank(rec, r);
            mlp_decode_rank(&tp->rank[r], l, &w, rec);
            allreduce_add(w.sum, w.y, (size_t)H, r);
        }
        tl_rec_rank(rec, TL_REPLICATED);
        tl_round(w.sum, (size_t)H, bf);
        tl_add(w.x, w.sum, (size_t)H);
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
