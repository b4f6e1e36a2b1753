/*
 * test_tinylm.c — end-to-end tests of the tinylm sample engine: run the binary the way a user does, read its
 * traces back through the public reader API, and check them.
 *
 *   test_tinylm records TINYLM OUTDIR   every record exists once with the documented key fields, shape, dtype
 *                                       and metadata; full-prefill rows agree with prefill_last; masks
 *   test_tinylm modes   TINYLM OUTDIR   stats/hash capture modes, TT_TRACE_* filters, determinism
 *   test_tinylm drift   TINYLM OUTDIR   the correct engine: prefill_last vs decode0 differ only by small drift
 *                                       (f32 and bf16), the first stages are bitwise equal, KV prefix rows equal
 *   test_tinylm bugs    TINYLM OUTDIR   each bug first shows at its documented stage, no earlier
 *
 * The comparison is our own (max abs error over the reference's absmax, and in bf16 ulps), not tracediff's.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tinylm_check.h"
#include "tt/dtype.h"
#include "tt_test.h"

static const char *g_bin, *g_dir;

/* The default model and prompts (tinylm's defaults). */
#define D_LAYERS 4
#define D_HIDDEN 256
#define D_HEADS 8
#define D_KVD 64 /* kv_heads 2 * head_dim 32 */
#define D_VOCAB 512
static const char *const d_prompts[3] = {"p0_short", "p6_len_16", "p6_len_32"};
static const int d_lens[3] = {2, 16, 32};

static char *path_in_dir(const char *name)
{
    static char buf[8][1024];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, 1024, "%s/%s", g_dir, name);
    return p;
}

/* Runs tinylm with args, writing its output to NAME.log, and expects exit 0. */
static int run_ok(const char *name, const char *const *args)
{
    char log[1024];
    snprintf(log, sizeof log, "%s/%s.log", g_dir, name);
    int rc = tlc_run(g_bin, log, args);
    if (rc != 0) {
        fprintf(stderr, "tinylm exited with %d (see %s)\n", rc, log);
        tt_test_failures++;
        return -1;
    }
    return 0;
}

/* ---- shapes and key fields ---- */

typedef struct model_dims {
    int layers, hidden, heads, kvd, vocab;
    tt_dtype dtype;
} model_dims;

static int is_cache(const char *point)
{
    return strcmp(point, "k_cache") == 0 || strcmp(point, "v_cache") == 0;
}

/* Expected shape of a record holding `rows` rows of a prompt of n tokens (kv_len = n). */
static int expected_shape(const model_dims *m, const char *point, uint64_t rows, int n, uint64_t *shape)
{
    shape[0] = rows;
    if (is_cache(point)) {
        shape[0] = (uint64_t)n;
        shape[1] = (uint64_t)m->kvd;
        return 2;
    }
    if (strcmp(point, "attn_scores") == 0 || strcmp(point, "attn_probs") == 0) {
        shape[1] = (uint64_t)m->heads;
        shape[2] = (uint64_t)n;
        return 3;
    }
    if (strcmp(point, "k_pre_rope") == 0 || strcmp(point, "k_post_rope") == 0 || strcmp(point, "v") == 0)
        shape[1] = (uint64_t)m->kvd;
    else if (strcmp(point, "logits") == 0)
        shape[1] = (uint64_t)m->vocab;
    else
        shape[1] = (uint64_t)m->hidden; /* q has heads*head_dim = hidden */
    return 2;
}

/* Checks one record's key, shape and flags for its phase; tok is the expected token id (-1: not known yet,
 * then set from the record). */
static void check_record(const model_dims *m, const tlc_rec *r, const char *phase, const char *point, int layer,
                         int n, int32_t *tok)
{
    const tt_key *k = &r->r.key;
    int full = strcmp(phase, "prefill") == 0, dec = strcmp(phase, "decode0") == 0;
    int cache = is_cache(point);
    uint64_t rows = full ? (uint64_t)n : 1;
    uint64_t shape[4];
    int nd = expected_shape(m, point, rows, n, shape);

    CHECK_EQ_INT(k->step, dec ? 1 : 0);
    CHECK_EQ_INT(k->layer, layer);
    CHECK_EQ_INT(k->rank, 0);
    CHECK_EQ_INT(k->logical_tok_idx, full ? 0 : n - 1);
    CHECK_EQ_INT(k->pos_id, (full || cache) ? 0 : n - 1);
    CHECK_EQ_INT(k->rows, (int)shape[0]);
    CHECK_EQ_INT(r->r.dtype, m->dtype);
    CHECK_EQ_INT(r->r.ndim, nd);
    for (int i = 0; i < nd && i < r->r.ndim; i++)
        CHECK_EQ_U64(r->r.shape[i], shape[i]);
    CHECK((r->r.flags & (TT_REC_HAS_PAYLOAD | TT_REC_HAS_HASH | TT_REC_HAS_STATS)) ==
          (TT_REC_HAS_PAYLOAD | TT_REC_HAS_HASH | TT_REC_HAS_STATS));
    CHECK(k->token_id >= 0 && k->token_id < m->vocab);
    if (*tok < 0)
        *tok = k->token_id;
    CHECK_EQ_INT(k->token_id, *tok);
    if (r->raw)
        CHECK_EQ_U64(r->r.hash, tt_hash(r->raw, (size_t)r->r.nbytes));
}

/* Walks every (point, layer) of a prompt and phase in pipeline order; fn(point, layer, ctx) for each. */
typedef void (*point_fn)(const char *point, int layer, void *ctx);
static void for_each_point(int layers, point_fn fn, void *ctx)
{
    fn("embed_out", -1, ctx);
    for (int l = 0; l < layers; l++)
        for (int p = 0; p < TLC_LAYER_POINTS; p++)
            fn(tlc_layer_points[p], l, ctx);
    fn("logits", -1, ctx);
}

typedef struct rec_ctx {
    const tlc_trace *t;
    const model_dims *m;
    const char *prompt;
    int n;
    int32_t tok_last, tok_first;
    int has_full;
} rec_ctx;

static void check_point_records(const char *point, int layer, void *vctx)
{
    rec_ctx *c = vctx;
    int dups;
    const tlc_rec *pl = tlc_find(c->t, c->prompt, "prefill_last", point, layer, &dups);
    CHECK(pl != NULL);
    CHECK_EQ_INT(dups, 0);
    const tlc_rec *d0 = tlc_find(c->t, c->prompt, "decode0", point, layer, &dups);
    CHECK(d0 != NULL);
    CHECK_EQ_INT(dups, 0);
    if (!pl || !d0) {
        fprintf(stderr, "  missing %s %s layer %d\n", c->prompt, point, layer);
        return;
    }
    check_record(c->m, pl, "prefill_last", point, layer, c->n, &c->tok_last);
    check_record(c->m, d0, "decode0", point, layer, c->n, &c->tok_last);
    /* The seeds' strict pairing key is the same on both sides; the shapes too. */
    CHECK_EQ_INT(pl->r.key.token_id, d0->r.key.token_id);
    CHECK_EQ_INT(pl->r.key.logical_tok_idx, d0->r.key.logical_tok_idx);
    CHECK_EQ_INT(pl->r.key.pos_id, d0->r.key.pos_id);
    CHECK_EQ_U64(pl->r.nbytes, d0->r.nbytes);

    if (!c->has_full)
        return;
    const tlc_rec *fp = tlc_find(c->t, c->prompt, "prefill", point, layer, &dups);
    CHECK(fp != NULL);
    CHECK_EQ_INT(dups, 0);
    if (!fp)
        return;
    check_record(c->m, fp, "prefill", point, layer, c->n, &c->tok_first);
    /* prefill_last is the last row of the full prefill (the cache: the same rows). */
    if (fp->raw && pl->raw && fp->r.shape[0] > 0) {
        uint64_t row_bytes = fp->r.nbytes / fp->r.shape[0];
        if (is_cache(point))
            CHECK(fp->r.nbytes == pl->r.nbytes && memcmp(fp->raw, pl->raw, (size_t)pl->r.nbytes) == 0);
        else
            CHECK(row_bytes == pl->r.nbytes &&
                  memcmp((const char *)fp->raw + row_bytes * (fp->r.shape[0] - 1), pl->raw, (size_t)row_bytes) == 0);
    }
    /* Causal mask in the full prefill: scores -inf and probabilities 0 past the diagonal, rows summing to 1. */
    int scores = strcmp(point, "attn_scores") == 0, probs = strcmp(point, "attn_probs") == 0;
    if ((scores || probs) && fp->d) {
        int h = c->m->heads, n = c->n, bad = 0;
        for (int i = 0; i < n; i++)
            for (int hh = 0; hh < h; hh++) {
                const double *row = fp->d + ((size_t)i * h + hh) * n;
                double sum = 0.0;
                for (int j = 0; j < n; j++) {
                    if (scores)
                        bad += j > i ? row[j] != -INFINITY : !isfinite(row[j]);
                    else {
                        bad += j > i ? row[j] != 0.0 : !(row[j] >= 0.0);
                        sum += row[j];
                    }
                }
                if (probs && fabs(sum - 1.0) > (c->m->dtype == TT_BF16 ? 3e-2 : 1e-5))
                    bad++;
            }
        CHECK_EQ_INT(bad, 0);
        if (scores && (fp->r.flags & TT_REC_HAS_STATS))
            CHECK_EQ_U64(fp->r.stats.inf_count, (uint64_t)h * (uint64_t)n * (uint64_t)(n - 1) / 2);
    }
}

static void check_trace_records(const tlc_trace *t, const model_dims *m, const char *const *prompts,
                                const int *lens, int np, int has_full)
{
    size_t per_phase = 2 + (size_t)TLC_LAYER_POINTS * (size_t)m->layers;
    CHECK_EQ_U64(t->count, (uint64_t)np * per_phase * (has_full ? 3u : 2u));
    for (int p = 0; p < np; p++) {
        rec_ctx c = {t, m, prompts[p], lens[p], -1, -1, has_full};
        for_each_point(m->layers, check_point_records, &c);
        /* decode0 probabilities sum to 1 over kv_len = n. */
        for (int l = 0; l < m->layers; l++) {
            const tlc_rec *d0 = tlc_find(t, prompts[p], "decode0", "attn_probs", l, NULL);
            if (!d0 || !d0->d)
                continue;
            for (int h = 0; h < m->heads; h++) {
                double sum = 0.0;
                for (int j = 0; j < lens[p]; j++)
                    sum += d0->d[(size_t)h * lens[p] + j];
                CHECK(fabs(sum - 1.0) < (m->dtype == TT_BF16 ? 3e-2 : 1e-5));
            }
        }
    }
}

static void check_meta(const tlc_trace *t, const char *key, const char *want)
{
    const char *v = tt_reader_meta_get(t->rd, key);
    if (want)
        CHECK_EQ_STR(v, want);
    else
        CHECK(v != NULL && *v != '\0');
}

static int test_records(void)
{
    const char *out = path_in_dir("records_f32.tt");
    const char *args[] = {"-o", out, "--capture-full-prefill", NULL};
    if (run_ok("records_f32", args) == 0) {
        tlc_trace t;
        if (tlc_trace_load(&t, out) == 0) {
            model_dims m = {D_LAYERS, D_HIDDEN, D_HEADS, D_KVD, D_VOCAB, TT_F32};
            check_trace_records(&t, &m, d_prompts, d_lens, 3, 1);
            check_meta(&t, "engine", "tinylm");
            check_meta(&t, "dtype", "f32");
            check_meta(&t, "bug", "none");
            check_meta(&t, "seed", "1");
            check_meta(&t, "device", "cpu");
            check_meta(&t, "capture_mode", "full");
            check_meta(&t, "model", "tinylm-L4-H256-heads8-kv2-hd32-ffn688-vocab512");
            check_meta(&t, "commit", NULL);
            check_meta(&t, "prompts", "p0_short:2,p6_len_16:16,p6_len_32:32");
        } else {
            tt_test_failures++;
        }
        tlc_trace_free(&t);
    }

    /* Other sizes, bf16, named prompts, no full prefill. */
    out = path_in_dir("records_bf16.tt");
    const char *args2[] = {"-o",    out,    "--dtype",   "bf16", "--layers", "2",       "--hidden",           "64",
                           "--heads", "4",  "--kv-heads", "1",   "--vocab",  "100",     "--seed",             "7",
                           "--prompts", "a:3,zz_len_5", NULL};
    if (run_ok("records_bf16", args2) == 0) {
        tlc_trace t;
        if (tlc_trace_load(&t, out) == 0) {
            static const char *const pr[2] = {"a", "zz_len_5"};
            static const int ln[2] = {3, 5};
            model_dims m = {2, 64, 4, 16, 100, TT_BF16};
            check_trace_records(&t, &m, pr, ln, 2, 0);
            check_meta(&t, "dtype", "bf16");
            check_meta(&t, "seed", "7");
            check_meta(&t, "model", "tinylm-L2-H64-heads4-kv1-hd16-ffn176-vocab100");
        } else {
            tt_test_failures++;
        }
        tlc_trace_free(&t);
    }
    return tt_test_exit();
}

/* ---- capture modes, filters, determinism ---- */

static int test_modes(void)
{
    const char *full = path_in_dir("modes_full.tt"), *stats = path_in_dir("modes_stats.tt");
    const char *hash = path_in_dir("modes_hash.tt"), *filt = path_in_dir("modes_filtered.tt");
    const char *again = path_in_dir("modes_again.tt");
    const char *a1[] = {"-o", full, "--prompts", "p6_len_16", NULL};
    const char *a2[] = {"-o", stats, "--prompts", "p6_len_16", "--mode", "stats", NULL};
    const char *a3[] = {"-o", hash, "--prompts", "p6_len_16", "--mode", "hash", "--threads", "1", NULL};
    const char *a4[] = {"-o", again, "--prompts", "p6_len_16", NULL};
    if (run_ok("modes_full", a1) || run_ok("modes_stats", a2) || run_ok("modes_hash", a3) || run_ok("modes_again", a4))
        return tt_test_exit();
    setenv("TT_TRACE_LAYERS", "1", 1);
    setenv("TT_TRACE_POINTS", "attn_out,logits", 1);
    const char *a5[] = {"-o", filt, "--prompts", "p6_len_16", NULL};
    int rc = run_ok("modes_filtered", a5);
    unsetenv("TT_TRACE_LAYERS");
    unsetenv("TT_TRACE_POINTS");
    if (rc)
        return tt_test_exit();

    tlc_trace tf, ts, th, tx, ta;
    int ok = tlc_trace_load(&tf, full) == 0;
    ok &= tlc_trace_load(&ts, stats) == 0;
    ok &= tlc_trace_load(&th, hash) == 0;
    ok &= tlc_trace_load(&tx, filt) == 0;
    ok &= tlc_trace_load(&ta, again) == 0;
    CHECK(ok);
    if (ok) {
        CHECK_EQ_U64(ts.count, tf.count);
        CHECK_EQ_U64(th.count, tf.count);
        CHECK_EQ_U64(ta.count, tf.count);
        for (size_t i = 0; i < tf.count && i < ts.count && i < th.count && i < ta.count; i++) {
            const tt_record *f = &tf.recs[i].r, *s = &ts.recs[i].r, *h = &th.recs[i].r, *a = &ta.recs[i].r;
            CHECK_EQ_STR(s->key.point, f->key.point);
            CHECK_EQ_STR(h->key.phase, f->key.phase);
            CHECK((s->flags & TT_REC_HAS_PAYLOAD) == 0 && (s->flags & TT_REC_HAS_STATS) && (s->flags & TT_REC_HAS_HASH));
            CHECK((h->flags & (TT_REC_HAS_PAYLOAD | TT_REC_HAS_STATS)) == 0 && (h->flags & TT_REC_HAS_HASH));
            /* The engine is deterministic: every mode and every run sees the same tensors. */
            CHECK_EQ_U64(s->hash, f->hash);
            CHECK_EQ_U64(h->hash, f->hash);
            CHECK_EQ_U64(a->hash, f->hash);
            if (s->flags & TT_REC_HAS_STATS) {
                CHECK_EQ_U64(s->stats.inf_count, f->stats.inf_count);
                CHECK(s->stats.max == f->stats.max && s->stats.min == f->stats.min);
            }
        }
        check_meta(&ts, "capture_mode", "stats");
        check_meta(&th, "capture_mode", "hash");
        /* TT_TRACE_LAYERS=1 keeps layer 1 and the layer -1 records; TT_TRACE_POINTS keeps two points. */
        CHECK_EQ_U64(tx.count, 2u * 2u); /* (attn_out L1 + logits) x (prefill_last, decode0) */
        for (size_t i = 0; i < tx.count; i++) {
            const tt_key *k = &tx.recs[i].r.key;
            CHECK((strcmp(k->point, "attn_out") == 0 && k->layer == 1) ||
                  (strcmp(k->point, "logits") == 0 && k->layer == -1));
        }
    }
    tlc_trace_free(&tf);
    tlc_trace_free(&ts);
    tlc_trace_free(&th);
    tlc_trace_free(&tx);
    tlc_trace_free(&ta);
    return tt_test_exit();
}

/* ---- drift of the correct engine ---- */

typedef struct walk {
    const tlc_trace *t;
    const char *prompt;
    int n;
    tt_dtype dt;
    int index;            /* position in pipeline order */
    int first_over;       /* index of the first pair beyond the drift threshold, -1 */
    const char *fo_point; /* and its point and layer */
    int fo_layer;
    int pairs, bitwise, missing;
    double max_rel, max_ulps;
    double stage_rel[TLC_LAYER_POINTS + 2], stage_ulps[TLC_LAYER_POINTS + 2]; /* per point, over layers */
    int kv_prefix_diff_layer; /* first layer whose cached rows 0..n-2 differ bitwise, -1 */
    int print;
} walk;

static int point_slot(const char *point)
{
    if (strcmp(point, "embed_out") == 0)
        return TLC_LAYER_POINTS;
    if (strcmp(point, "logits") == 0)
        return TLC_LAYER_POINTS + 1;
    for (int i = 0; i < TLC_LAYER_POINTS; i++)
        if (strcmp(point, tlc_layer_points[i]) == 0)
            return i;
    return 0;
}

static void walk_pair(const char *point, int layer, void *vctx)
{
    walk *w = vctx;
    const tlc_rec *a = tlc_find(w->t, w->prompt, "prefill_last", point, layer, NULL);
    const tlc_rec *b = tlc_find(w->t, w->prompt, "decode0", point, layer, NULL);
    int idx = w->index++;
    if (!a || !b) {
        w->missing++;
        return;
    }
    tlc_cmp c;
    tlc_compare(a, b, &c);
    w->pairs++;
    w->bitwise += c.bitwise;
    if (tlc_over(&c, w->dt) && w->first_over < 0) {
        w->first_over = idx;
        w->fo_point = point;
        w->fo_layer = layer;
    }
    if (c.rel > w->max_rel)
        w->max_rel = c.rel;
    if (c.ulps > w->max_ulps)
        w->max_ulps = c.ulps;
    int s = point_slot(point);
    if (c.rel > w->stage_rel[s])
        w->stage_rel[s] = c.rel;
    if (c.ulps > w->stage_ulps[s])
        w->stage_ulps[s] = c.ulps;
    if (is_cache(point) && w->kv_prefix_diff_layer < 0 && !tlc_rows_bitwise(a, b, (uint64_t)(w->n - 1)))
        w->kv_prefix_diff_layer = layer;
    if (w->print)
        printf("    %-8s L%-2d %-18s %s rel %.3e ulps %.2f\n", w->prompt, layer, point, c.bitwise ? "BITWISE" : "       ",
               c.rel, c.ulps);
}

static void walk_trace(walk *w, const tlc_trace *t, const char *prompt, int n, tt_dtype dt, int layers)
{
    memset(w, 0, sizeof *w);
    w->t = t;
    w->prompt = prompt;
    w->n = n;
    w->dt = dt;
    w->first_over = -1;
    w->kv_prefix_diff_layer = -1;
    w->print = getenv("TINYLM_TEST_VERBOSE") != NULL;
    for_each_point(layers, walk_pair, w);
}

/* Index of (point, layer) in pipeline order. */
static int pipeline_index(const char *point, int layer)
{
    if (strcmp(point, "embed_out") == 0)
        return 0;
    if (strcmp(point, "logits") == 0)
        return 1 + TLC_LAYER_POINTS * D_LAYERS;
    return 1 + layer * TLC_LAYER_POINTS + point_slot(point);
}

static int bitwise_pair(const tlc_trace *t, const char *prompt, const char *point, int layer)
{
    const tlc_rec *a = tlc_find(t, prompt, "prefill_last", point, layer, NULL);
    const tlc_rec *b = tlc_find(t, prompt, "decode0", point, layer, NULL);
    tlc_cmp c;
    if (!a || !b)
        return 0;
    tlc_compare(a, b, &c);
    return c.bitwise;
}

static int test_drift(void)
{
    static const char *const dtypes[2] = {"f32", "bf16"};
    for (int di = 0; di < 2; di++) {
        char name[64];
        snprintf(name, sizeof name, "drift_%s", dtypes[di]);
        char file[80];
        snprintf(file, sizeof file, "%s.tt", name);
        const char *out = path_in_dir(file);
        const char *args[] = {"-o", out, "--dtype", dtypes[di], NULL};
        if (run_ok(name, args))
            continue;
        tlc_trace t;
        if (tlc_trace_load(&t, out) != 0) {
            tt_test_failures++;
            continue;
        }
        tt_dtype dt = di ? TT_BF16 : TT_F32;
        double stage_rel[TLC_LAYER_POINTS + 2] = {0}, stage_ulps[TLC_LAYER_POINTS + 2] = {0};
        int pairs = 0, bitwise = 0;
        for (int p = 0; p < 3; p++) {
            walk w;
            walk_trace(&w, &t, d_prompts[p], d_lens[p], dt, D_LAYERS);
            CHECK_EQ_INT(w.missing, 0);
            if (w.first_over >= 0)
                fprintf(stderr, "  %s %s: L%d %s is beyond the drift threshold\n", dtypes[di], d_prompts[p],
                        w.fo_layer, w.fo_point);
            CHECK_EQ_INT(w.first_over, -1);
            /* KV-cache consistency: cached rows written by the prefill over n-1 tokens are bitwise those of the
             * prefill over n tokens (row-independent prefill kernels). */
            CHECK_EQ_INT(w.kv_prefix_diff_layer, -1);
            /* Before the first projection both paths run the same code on the same input. */
            CHECK(bitwise_pair(&t, d_prompts[p], "embed_out", -1));
            CHECK(bitwise_pair(&t, d_prompts[p], "residual_pre_attn", 0));
            CHECK(bitwise_pair(&t, d_prompts[p], "attn_norm_out", 0));
            /* ...and the paths do differ: some pair of every prompt is not bitwise equal. */
            CHECK(w.bitwise < w.pairs);
            pairs += w.pairs;
            bitwise += w.bitwise;
            for (int s = 0; s < TLC_LAYER_POINTS + 2; s++) {
                stage_rel[s] = w.stage_rel[s] > stage_rel[s] ? w.stage_rel[s] : stage_rel[s];
                stage_ulps[s] = w.stage_ulps[s] > stage_ulps[s] ? w.stage_ulps[s] : stage_ulps[s];
            }
        }
        /* f32: the first projection already differs (GEMM vs GEMV reduction order). */
        if (dt == TT_F32)
            for (int p = 0; p < 3; p++)
                CHECK(!bitwise_pair(&t, d_prompts[p], "q_pre_rope", 0));
        printf("%s: %d pairs, %d bitwise equal; max over prompts and layers per stage:\n", dtypes[di], pairs,
               bitwise);
        printf("  %-18s %s\n", "embed_out", stage_rel[TLC_LAYER_POINTS] == 0 ? "bitwise" : "differs");
        for (int s = 0; s < TLC_LAYER_POINTS; s++)
            printf("  %-18s max rel %.2e  max bf16 ulps %.2f\n", tlc_layer_points[s], stage_rel[s], stage_ulps[s]);
        printf("  %-18s max rel %.2e  max bf16 ulps %.2f\n", "logits", stage_rel[TLC_LAYER_POINTS + 1],
               stage_ulps[TLC_LAYER_POINTS + 1]);
        tlc_trace_free(&t);
    }
    return tt_test_exit();
}

/* ---- bugs ---- */

typedef struct bug_case {
    const char *name;
    const char *point; /* documented first stage (prefill_last vs decode0) */
    int layer;
    int decode_only;   /* the bug lives in the decode path: prefill records equal the correct engine's */
} bug_case;

static const bug_case bug_cases[] = {
    {"rope-pos", "q_post_rope", 0, 1},
    {"mask", "k_cache", 1, 0},
    {"kv-offset", "k_cache", 0, 1},
    {"softmax-scale", "attn_scores", 0, 1},
    {"norm-eps", "attn_norm_out", 0, 1},
};

/* Checks that every record of phase in `a` is bitwise equal to the same record in `b`. */
static int phase_bitwise_equal(const tlc_trace *a, const tlc_trace *b, const char *phase)
{
    int n = 0;
    for (size_t i = 0; i < a->count; i++) {
        const tlc_rec *r = &a->recs[i];
        if (strcmp(r->r.key.phase, phase) != 0)
            continue;
        const tlc_rec *o = tlc_find(b, r->r.key.prompt_id, phase, r->r.key.point, r->r.key.layer, NULL);
        tlc_cmp c;
        if (!o)
            return 0;
        tlc_compare(r, o, &c);
        if (!c.bitwise)
            return 0;
        n++;
    }
    return n > 0;
}

/* Pipeline index of the first record of phase that is not bitwise equal between two runs, -1 if none. */
static int first_cross_difference(const tlc_trace *a, const tlc_trace *b, const char *prompt, const char *phase)
{
    for (int l = -1; l <= D_LAYERS; l++) {
        int np = (l < 0 || l == D_LAYERS) ? 1 : TLC_LAYER_POINTS;
        for (int s = 0; s < np; s++) {
            const char *pt = l < 0 ? "embed_out" : l == D_LAYERS ? "logits" : tlc_layer_points[s];
            int layer = (l < 0 || l == D_LAYERS) ? -1 : l;
            const tlc_rec *x = tlc_find(a, prompt, phase, pt, layer, NULL);
            const tlc_rec *y = tlc_find(b, prompt, phase, pt, layer, NULL);
            tlc_cmp c;
            if (!x || !y)
                return -2;
            tlc_compare(x, y, &c);
            if (!c.bitwise)
                return pipeline_index(pt, layer);
        }
    }
    return -1;
}

static void check_bug(const bug_case *bc, const tlc_trace *ref_f32)
{
    static const char *const dtypes[2] = {"f32", "bf16"};
    for (int di = 0; di < 2; di++) {
        char name[64], file[80];
        snprintf(name, sizeof name, "bug_%s_%s", bc->name, dtypes[di]);
        snprintf(file, sizeof file, "%s.tt", name);
        const char *out = path_in_dir(file);
        const char *args[] = {"-o", out, "--dtype", dtypes[di], "--bug", bc->name, NULL};
        if (run_ok(name, args))
            continue;
        tlc_trace t;
        if (tlc_trace_load(&t, out) != 0) {
            tt_test_failures++;
            continue;
        }
        tt_dtype dt = di ? TT_BF16 : TT_F32;
        check_meta(&t, "bug", bc->name);
        int want = pipeline_index(bc->point, bc->layer), all_ok = 1, relaxed = 0;
        for (int p = 0; p < 3; p++) {
            walk w;
            walk_trace(&w, &t, d_prompts[p], d_lens[p], dt, D_LAYERS);
            CHECK_EQ_INT(w.missing, 0);
            int strict = 1;
            if (strcmp(bc->name, "mask") == 0) {
                /* One extra key among n changes a cached row by a few bf16 ulps only for long prompts: in bf16 the
                 * normwise threshold sees it for p0_short; the bitwise KV-prefix check sees it always. */
                strict = dt == TT_F32 || d_lens[p] == 2;
                relaxed += !strict;
                CHECK_EQ_INT(w.kv_prefix_diff_layer, 1);
            } else {
                CHECK_EQ_INT(w.kv_prefix_diff_layer, -1);
            }
            int ok = strict ? w.first_over == want : (w.first_over < 0 || w.first_over >= want);
            if (!ok)
                fprintf(stderr, "  bug %s %s %s: first stage beyond drift is %s L%d, documented %s L%d\n", bc->name,
                        dtypes[di], d_prompts[p], w.fo_point ? w.fo_point : "(none)", w.fo_layer, bc->point,
                        bc->layer);
            CHECK(ok);
            all_ok &= ok;
            if (!ok && !w.print) {
                setenv("TINYLM_TEST_VERBOSE", "1", 1);
                walk_trace(&w, &t, d_prompts[p], d_lens[p], dt, D_LAYERS);
                unsetenv("TINYLM_TEST_VERBOSE");
            }
        }
        if (dt == TT_F32 && bc->decode_only && ref_f32) {
            /* The prefill path is untouched; against the correct engine's decode0, the same first stage. */
            CHECK(phase_bitwise_equal(&t, ref_f32, "prefill_last"));
            for (int p = 0; p < 3; p++) {
                int first = first_cross_difference(ref_f32, &t, d_prompts[p], "decode0");
                if (first != want)
                    fprintf(stderr, "  bug %s: decode0 vs the correct engine's first differs at index %d, want %d\n",
                            bc->name, first, want);
                CHECK_EQ_INT(first, want);
            }
        }
        if (all_ok)
            printf("bug %-13s %-4s: first beyond drift at %s layer %d, as documented%s\n", bc->name, dtypes[di],
                   bc->point, bc->layer,
                   relaxed ? " (p6 prompts: k_cache L1 within the bf16 threshold; caught by the KV-prefix check)"
                           : "");
        tlc_trace_free(&t);
    }
}

/* The mask bug in a full prefill capture: against the correct engine, attn_scores of layer 0 is the first
 * prefill tensor that differs (every earlier one is bitwise equal), and probabilities appear past the diagonal. */
static void check_mask_full_prefill(void)
{
    const char *good = path_in_dir("mask_full_good.tt"), *bad = path_in_dir("mask_full_bad.tt");
    const char *a1[] = {"-o", good, "--capture-full-prefill", NULL};
    const char *a2[] = {"-o", bad, "--capture-full-prefill", "--bug", "mask", NULL};
    if (run_ok("mask_full_good", a1) || run_ok("mask_full_bad", a2))
        return;
    tlc_trace tg, tb;
    int ok = tlc_trace_load(&tg, good) == 0;
    ok &= tlc_trace_load(&tb, bad) == 0;
    CHECK(ok);
    if (ok) {
        for (int p = 0; p < 3; p++) {
            int first = -1, idx = 0;
            const char *fpoint = NULL;
            int flayer = 0;
            for (int l = -1; l < D_LAYERS && first < 0; l++) {
                int np = l < 0 ? 1 : TLC_LAYER_POINTS;
                for (int s = 0; s < np && first < 0; s++, idx++) {
                    const char *pt = l < 0 ? "embed_out" : tlc_layer_points[s];
                    const tlc_rec *a = tlc_find(&tg, d_prompts[p], "prefill", pt, l, NULL);
                    const tlc_rec *b = tlc_find(&tb, d_prompts[p], "prefill", pt, l, NULL);
                    tlc_cmp c;
                    CHECK(a && b);
                    if (!a || !b)
                        continue;
                    tlc_compare(a, b, &c);
                    if (!c.bitwise) {
                        first = idx;
                        fpoint = pt;
                        flayer = l;
                    }
                }
            }
            CHECK(fpoint != NULL && strcmp(fpoint, "attn_scores") == 0 && flayer == 0);
            const tlc_rec *pr = tlc_find(&tb, d_prompts[p], "prefill", "attn_probs", 0, NULL);
            int n = d_lens[p], future = 0;
            for (int i = 0; pr && pr->d && i + 1 < n; i++)
                for (int h = 0; h < D_HEADS; h++)
                    future += pr->d[((size_t)i * D_HEADS + h) * n + i + 1] > 0.0;
            CHECK_EQ_INT(future, (n - 1) * D_HEADS);
        }
        printf("bug mask (full prefill vs correct engine): first difference at attn_scores layer 0\n");
    }
    tlc_trace_free(&tg);
    tlc_trace_free(&tb);
}

static int test_bugs(void)
{
    const char *ref = path_in_dir("bugs_ref_f32.tt");
    const char *args[] = {"-o", ref, NULL};
    tlc_trace tr;
    int have_ref = run_ok("bugs_ref_f32", args) == 0 && tlc_trace_load(&tr, ref) == 0;
    CHECK(have_ref);
    for (size_t i = 0; i < sizeof bug_cases / sizeof bug_cases[0]; i++)
        check_bug(&bug_cases[i], have_ref ? &tr : NULL);
    check_mask_full_prefill();
    if (have_ref)
        tlc_trace_free(&tr);
    return tt_test_exit();
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_tinylm records|modes|drift|bugs TINYLM OUTDIR\n");
        return 2;
    }
    g_bin = argv[2];
    g_dir = argv[3];
    tlc_prepare(g_dir); /* the user's tracing settings must not leak into the runs under test */
    if (strcmp(argv[1], "records") == 0)
        return test_records();
    if (strcmp(argv[1], "modes") == 0)
        return test_modes();
    if (strcmp(argv[1], "drift") == 0)
        return test_drift();
    if (strcmp(argv[1], "bugs") == 0)
        return test_bugs();
    fprintf(stderr, "unknown test '%s'\n", argv[1]);
    return 2;
}
