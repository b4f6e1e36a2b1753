/*
 * diff_shardgen.c — tensor-parallel traces for the gather tests: a toy model of L layers, each
 *     q      = x Wq                 column-parallel: rank r holds its columns (SPLIT along dimension 1)
 *     o      = q Wo                 row-parallel: rank r holds q_r Wo_r, a partial sum (PARTIAL)
 *     x'     = x + allreduce(o)     replicated on every rank (the all-reduce adds the partials in rank order)
 * written once unsharded (DIR/ref.tt, TP=1: every product computed whole, rounded once to the dtype) and once as
 * N rank files (DIR/PREFIX-rank<r>.tt: each rank's shards, its partial rounded to the dtype before the
 * all-reduce). The writer reads TT_TRACE_* (mode and filters) as an engine's would.
 *
 * usage: diff_shardgen DIR --tp N [--dtype bf16|f32] [--layers L] [--rows R] [--prefix P] [--no-ref]
 *                      [--bug-rank R] [--bug-layer L] [--drop-rank R] [--dup-rank R] [--split-dim 0|1]
 *   --bug-rank R     rank R's q shard is scaled by 1.05 from --bug-layer on (default 1): a bug of one rank
 *   --drop-rank R    rank R does not write its attn_out partial of layer 1 (a missing shard)
 *   --dup-rank R     rank R writes its q shard of layer 0 with rank R-1's shard index (a shard held twice)
 *   --split-dim 0    q is split along its rows instead (sequence parallelism)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"
#include "tt/writer.h"

#define H 64 /* hidden size and q width */

static tt_writer *open_w(const char *path, int rank, int world)
{
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.overwrite = 1;
    o.threads = 1;
    if (rank >= 0) {
        o.rank = rank;
        o.rank_set = 1;
        o.world_size = world;
    }
    tt_writer *w = NULL;
    if (tt_writer_open(&w, path, &o) != TT_OK) {
        fprintf(stderr, "diff_shardgen: %s\n", w ? tt_writer_errmsg(w) : path);
        exit(1);
    }
    tt_writer_set_meta(w, "engine", "diff_shardgen");
    tt_writer_set_meta(w, "model", "toy-tp");
    return w;
}

/* Rounds n doubles to dt and back (the value the engine holds), storing the bytes in out. */
static void round_to(tt_dtype dt, const double *v, size_t n, double *back, uint8_t *out)
{
    float *f = malloc(n * sizeof *f);
    if (!f)
        exit(1);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    tt_from_f32(dt, f, n, out);
    tt_to_f64(dt, out, n, back);
    free(f);
}

static void put(tt_writer *w, const char *point, int layer, int rows, tt_dtype dt, uint64_t cols, const void *data,
                int32_t kind, int32_t dim, int32_t index, int32_t count)
{
    tt_key k = TT_KEY_INIT;
    k.prompt_id = "p0";
    k.phase = "prefill";
    k.point = point;
    k.layer = layer;
    k.step = 0;
    k.pos_id = 0;
    k.rows = rows;
    k.shard_kind = kind;
    k.shard_dim = dim;
    k.shard_index = index;
    k.shard_count = count;
    const uint64_t shape[2] = {(uint64_t)rows, cols};
    int rc = tt_put(w, &k, dt, 2, shape, data);
    if (rc < 0) {
        fprintf(stderr, "diff_shardgen: put %s: %s\n", point, tt_writer_errmsg(w));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: diff_shardgen DIR --tp N [options] (see the source)\n");
        return 2;
    }
    const char *dir = argv[1], *prefix = "tp";
    int tp = 2, layers = 3, rows = 8, bug_rank = -1, bug_layer = 1, drop_rank = -1, dup_rank = -1, split_dim = 1,
        ref = 1;
    tt_dtype dt = TT_BF16;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--no-ref")) {
            ref = 0;
            continue;
        }
        i++;
        if (!strcmp(a, "--tp")) tp = atoi(v);
        else if (!strcmp(a, "--dtype")) dt = !strcmp(v, "f32") ? TT_F32 : TT_BF16;
        else if (!strcmp(a, "--layers")) layers = atoi(v);
        else if (!strcmp(a, "--rows")) rows = atoi(v);
        else if (!strcmp(a, "--prefix")) prefix = v;
        else if (!strcmp(a, "--bug-rank")) bug_rank = atoi(v);
        else if (!strcmp(a, "--bug-layer")) bug_layer = atoi(v);
        else if (!strcmp(a, "--drop-rank")) drop_rank = atoi(v);
        else if (!strcmp(a, "--dup-rank")) dup_rank = atoi(v);
        else if (!strcmp(a, "--split-dim")) split_dim = atoi(v);
        else {
            fprintf(stderr, "diff_shardgen: unknown option %s\n", a);
            return 2;
        }
    }
    if (tp < 1 || tp > 64 || H % tp || (split_dim == 0 && rows % tp) || layers < 1 || rows < 1) {
        fprintf(stderr, "diff_shardgen: --tp must divide %d (and --rows with --split-dim 0)\n", H);
        return 2;
    }
    size_t es = tt_dtype_size(dt), n = (size_t)rows * H;
    /* weights: fixed pseudo-random, scaled to keep activations O(1) */
    double *wq = malloc(sizeof(double) * H * H * layers), *wo = malloc(sizeof(double) * H * H * layers);
    double *x = malloc(sizeof(double) * n), *q = malloc(sizeof(double) * n), *o = malloc(sizeof(double) * n);
    double *qs = malloc(sizeof(double) * n), *os = malloc(sizeof(double) * n), *acc = malloc(sizeof(double) * n);
    double *back = malloc(sizeof(double) * n);
    double *xt = malloc(sizeof(double) * n); /* the TP run's own x (it drifts from the reference's) */
    uint8_t *buf = malloc(n * es);
    if (!wq || !wo || !x || !q || !o || !qs || !os || !acc || !back || !xt || !buf)
        return 1;
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < (size_t)H * H * layers; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        wq[i] = ((double)(s >> 11) * 0x1p-53 - 0.5) * 2.0 * sqrt(3.0 / H);
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        wo[i] = ((double)(s >> 11) * 0x1p-53 - 0.5) * 2.0 * sqrt(3.0 / H);
    }
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = ((double)(s >> 11) * 0x1p-53 - 0.5) * 2.0;
    }
    round_to(dt, x, n, x, buf);
    memcpy(xt, x, n * sizeof *x);
    char path[4096];
    tt_writer *wr = NULL;
    if (ref) {
        snprintf(path, sizeof path, "%s/ref.tt", dir);
        wr = open_w(path, -1, 0);
    }
    tt_writer *w[64];
    for (int r = 0; r < tp; r++) {
        snprintf(path, sizeof path, "%s/%s-rank%d.tt", dir, prefix, r);
        w[r] = open_w(path, r, tp);
    }
    int cw = H / tp, rw = rows / tp;
    for (int l = 0; l < layers; l++) {
        const double *Wq = wq + (size_t)l * H * H, *Wo = wo + (size_t)l * H * H;
        /* reference: whole products, rounded once */
        if (wr) {
            round_to(dt, x, n, back, buf);
            put(wr, "residual_pre_attn", l, rows, dt, H, buf, TT_SHARD_NONE, -1, -1, -1);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < H; j++) {
                    double t = 0;
                    for (int k = 0; k < H; k++)
                        t += x[i * H + k] * Wq[k * H + j];
                    q[i * H + j] = t;
                }
            round_to(dt, q, n, q, buf);
            put(wr, "q_pre_rope", l, rows, dt, H, buf, TT_SHARD_NONE, -1, -1, -1);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < H; j++) {
                    double t = 0;
                    for (int k = 0; k < H; k++)
                        t += q[i * H + k] * Wo[k * H + j];
                    o[i * H + j] = t;
                }
            round_to(dt, o, n, o, buf);
            put(wr, "attn_out", l, rows, dt, H, buf, TT_SHARD_NONE, -1, -1, -1);
            for (size_t i = 0; i < n; i++)
                x[i] += o[i];
            round_to(dt, x, n, x, buf);
            put(wr, "residual_post_attn", l, rows, dt, H, buf, TT_SHARD_NONE, -1, -1, -1);
        }
        /* tensor parallel: each rank its columns of q, its partial of o; the all-reduce in rank order */
        for (size_t i = 0; i < n; i++)
            acc[i] = 0;
        for (int r = 0; r < tp; r++) {
            round_to(dt, xt, n, back, buf);
            put(w[r], "residual_pre_attn", l, rows, dt, H, buf, TT_SHARD_NONE, -1, -1, -1);
            int c0 = r * cw;
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cw; j++) {
                    double t = 0;
                    for (int k = 0; k < H; k++)
                        t += xt[i * H + k] * Wq[k * H + c0 + j];
                    if (r == bug_rank && l >= bug_layer)
                        t *= 1.05;
                    qs[i * cw + j] = t;
                }
            round_to(dt, qs, (size_t)rows * cw, qs, buf);
            int idx = (r == dup_rank && l == 0 && r > 0) ? r - 1 : r;
            if (split_dim == 1) {
                put(w[r], "q_pre_rope", l, rows, dt, (uint64_t)cw, buf, TT_SHARD_SPLIT, 1, idx, tp);
            } else {
                /* the same values, cut by rows instead: rank r's rows of the whole q */
                double *whole = malloc(sizeof(double) * n);
                uint8_t *b2 = malloc(n * es);
                if (!whole || !b2)
                    return 1;
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < H; j++) {
                        double t = 0;
                        for (int k = 0; k < H; k++)
                            t += xt[i * H + k] * Wq[k * H + j];
                        whole[i * H + j] = (r == bug_rank && l >= bug_layer) ? t * 1.05 : t;
                    }
                round_to(dt, whole, n, whole, b2);
                put(w[r], "q_pre_rope", l, rw, dt, H, b2 + (size_t)r * rw * H * es, TT_SHARD_SPLIT, 0, idx, tp);
                free(whole);
                free(b2);
            }
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < H; j++) {
                    double t = 0;
                    for (int k = 0; k < cw; k++)
                        t += qs[i * cw + k] * Wo[(c0 + k) * H + j];
                    os[i * H + j] = t;
                }
            round_to(dt, os, n, os, buf);
            if (!(r == drop_rank && l == 1))
                put(w[r], "attn_out", l, rows, dt, H, buf, TT_SHARD_PARTIAL, -1, r, tp);
            for (size_t i = 0; i < n; i++)
                acc[i] = (double)(float)(acc[i] + os[i]); /* the all-reduce adds in float, in rank order */
        }
        round_to(dt, acc, n, acc, buf);
        for (size_t i = 0; i < n; i++)
            xt[i] += acc[i];
        round_to(dt, xt, n, xt, buf);
        for (int r = 0; r < tp; r++)
            put(w[r], "residual_post_attn", l, rows, dt, H, buf, TT_SHARD_NONE, -1, -1, -1);
    }
    int bad = 0;
    if (wr) {
        bad |= tt_writer_close(wr) != TT_OK;
        tt_writer_free(wr);
    }
    for (int r = 0; r < tp; r++) {
        bad |= tt_writer_close(w[r]) != TT_OK;
        tt_writer_free(w[r]);
    }
    free(wq), free(wo), free(x), free(q), free(o), free(qs), free(os), free(acc), free(back), free(xt), free(buf);
    if (bad) {
        fprintf(stderr, "diff_shardgen: close failed\n");
        return 1;
    }
    return 0;
}
