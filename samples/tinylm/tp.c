/*
 * tp.c — tinylm's tensor-parallel emulation: cutting the model into per-rank shards the way a Megatron-style
 * engine does (see tinylm.h). Column-parallel weights (Q, K, V, gate, up) give each rank a block of output rows;
 * row-parallel weights (output projection, down projection) give each rank a block of input columns, copied into
 * a contiguous [hidden][cols] matrix so the rank's kernels read it like any weight. Norms, embeddings and the
 * LM head stay shared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinylm.h"

int tl_tp_check(const tl_config *c, int n, char *err, size_t errlen)
{
    if (n < 1 || n > TL_MAX_TP) {
        snprintf(err, errlen, "--tp %d: ranks must be in 1..%d", n, TL_MAX_TP);
        return -1;
    }
    if (c->heads % n != 0) {
        snprintf(err, errlen, "--tp %d does not divide the %d heads", n, c->heads);
        return -1;
    }
    if (c->ffn % n != 0) {
        snprintf(err, errlen, "--tp %d does not divide the MLP width %d (--ffn)", n, c->ffn);
        return -1;
    }
    if (c->kv_heads % n != 0 && n % c->kv_heads != 0) {
        snprintf(err, errlen, "--tp %d and the %d kv-heads: one must divide the other (KV heads are split, or "
                 "replicated on tp/kv-heads ranks)", n, c->kv_heads);
        return -1;
    }
    return 0;
}

/* Copies columns [c0, c0 + nc) of the [rows][cols] matrix w into dst [rows][nc]. */
static void copy_cols(float *dst, const float *w, int rows, int cols, int c0, int nc)
{
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * nc, w + (size_t)r * cols + c0, (size_t)nc * sizeof(float));
}

int tl_tp_init(tl_tp *tp, const tl_model *m, int n, int bug_rank)
{
    memset(tp, 0, sizeof *tp);
    tp->n = n;
    tp->full = *m;
    if (bug_rank >= 0)
        tp->full.cfg.bug = TL_BUG_NONE; /* the replicated stages are right; only bug_rank's slice is not */
    const tl_config *c = &m->cfg;
    if (n == 1) {
        tp->rank[0] = *m;
        return 0;
    }
    const int hd = c->head_dim, H = c->hidden, L = c->layers;
    const int heads = c->heads / n, kvh = c->kv_heads >= n ? c->kv_heads / n : 1, F = c->ffn / n;
    const size_t QD = (size_t)heads * hd;
    /* the copied row-parallel blocks (wo, w_down); the column-parallel ones are slices of m's weights */
    tp->block = malloc((size_t)n * L * ((size_t)H * QD + (size_t)H * F) * sizeof(float));
    tp->layers = calloc((size_t)n * L, sizeof(tl_layer));
    if (!tp->block || !tp->layers) {
        tl_tp_free(tp);
        return -1;
    }
    float *p = tp->block;
    for (int r = 0; r < n; r++) {
        tl_model *s = &tp->rank[r];
        *s = *m;
        s->block = NULL;
        s->layer = tp->layers + (size_t)r * L;
        s->cfg.heads = heads;
        s->cfg.kv_heads = kvh;
        s->cfg.ffn = F;
        s->cfg.bug = bug_rank < 0 || bug_rank == r ? c->bug : TL_BUG_NONE;
        /* the KV head block this rank holds: its own slice, or the one it shares with its replica group */
        const int kv0 = c->kv_heads >= n ? r * kvh : r / (n / c->kv_heads);
        for (int l = 0; l < L; l++) {
            const tl_layer *W = &m->layer[l];
            tl_layer *S = &s->layer[l];
            *S = *W;
            S->wq = W->wq + (size_t)r * QD * H;
            S->wk = W->wk + (size_t)kv0 * hd * H;
            S->wv = W->wv + (size_t)kv0 * hd * H;
            S->w_gate = W->w_gate + (size_t)r * F * H;
            S->w_up = W->w_up + (size_t)r * F * H;
            S->wo = p;
            copy_cols(p, W->wo, H, c->heads * hd, (int)((size_t)r * QD), (int)QD);
            p += (size_t)H * QD;
            S->w_down = p;
            copy_cols(p, W->w_down, H, c->ffn, r * F, F);
            p += (size_t)H * F;
        }
    }
    return 0;
}

void tl_tp_free(tl_tp *tp)
{
    if (!tp)
        return;
    free(tp->block);
    free(tp->layers);
    tp->block = NULL;
    tp->layers = NULL;
}
