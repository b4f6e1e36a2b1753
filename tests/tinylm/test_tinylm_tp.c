/*
 * test_tinylm_tp.c — tinylm --tp N against --tp 1, read back through the public reader API:
 *   - one file per rank (tp4-%r.tt -> tp4-0.tt .. tp4-3.tt, no more), with the rank in the metadata and in every
 *     record; replicated stages only in rank 0's file, as whole tensors;
 *   - every record's shard layout: q/scores/probs SPLIT along dimension 1 (shard rank of N), k/v/caches SPLIT by
 *     KV head (written once per replica group when N > kv-heads), attn_out/mlp_out PARTIAL (addend rank of N);
 *   - reassembled, the shards are TP=1's tensors: concatenated SPLIT shards of layer 0 bitwise (the kernels sum
 *     each element the same way), every stage of every layer within the drift tolerance, PARTIAL addends summed
 *     within rounding; and some tensor is not bitwise equal (the all-reduce is a reduction order of its own);
 *   - --bug rope-pos --bug-rank 2: only rank 2's q_post_rope shard of decode0 differs from the correct run.
 *
 *   test_tinylm_tp TINYLM OUTDIR
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tinylm_check.h"
#include "tt/dtype.h"
#include "tt_test.h"

#define KV_HEADS 2 /* tinylm's default */
#define LAYERS 2
#define MAX_TP 8

static const char *g_bin, *g_dir;
static const char *const prompts[2] = {"p0_short", "p6_len_16"};
static const char *const phases[2] = {"prefill_last", "decode0"};

typedef enum { WHOLE, HEADS, KV, PARTIAL } layout;

static layout layout_of(const char *point)
{
    if (!strncmp(point, "q_", 2) || !strcmp(point, "attn_scores") || !strcmp(point, "attn_probs"))
        return HEADS;
    if (!strncmp(point, "k_", 2) || !strcmp(point, "v") || !strcmp(point, "v_cache"))
        return KV;
    if (!strcmp(point, "attn_out") || !strcmp(point, "mlp_out"))
        return PARTIAL;
    return WHOLE;
}

static char *path_in_dir(const char *name)
{
    static char buf[16][1024];
    static int slot;
    char *p = buf[slot++ % 16];
    snprintf(p, 1024, "%s/%s", g_dir, name);
    return p;
}

/* Runs tinylm --tp n (n 0: no --tp) with extra arguments, writing NAME(-%r).tt. @return : 0 or -1. */
static int run_tp(const char *name, int n, const char *dtype, const char *bug, const char *bug_rank)
{
    char out[1024], tp[16], log[1024];
    snprintf(out, sizeof out, n > 1 ? "%s/%s-%%r.tt" : "%s/%s.tt", g_dir, name);
    snprintf(tp, sizeof tp, "%d", n);
    snprintf(log, sizeof log, "%s/%s.log", g_dir, name);
    const char *args[20] = {"-q", "-o", out, "--tp", tp, "--dtype", dtype, "--layers", "2",
                            "--prompts", "p0_short,p6_len_16"};
    int k = 11;
    if (bug) {
        args[k++] = "--bug";
        args[k++] = bug;
        args[k++] = "--bug-rank";
        args[k++] = bug_rank;
    }
    args[k] = NULL;
    int rc = tlc_run(g_bin, log, args);
    if (rc != 0) {
        fprintf(stderr, "tinylm exited with %d (see %s)\n", rc, log);
        tt_test_failures++;
        return -1;
    }
    return 0;
}

/* Loads NAME-0.tt .. NAME-(n-1).tt and checks that NAME-n.tt does not exist. */
static int load_ranks(const char *name, int n, tlc_trace *t)
{
    char f[256];
    for (int r = 0; r < n; r++) {
        snprintf(f, sizeof f, "%s-%d.tt", name, r);
        if (tlc_trace_load(&t[r], path_in_dir(f)) < 0) {
            tt_test_failures++;
            return -1;
        }
    }
    snprintf(f, sizeof f, "%s-%d.tt", name, n);
    CHECK(access(path_in_dir(f), F_OK) != 0);
    return 0;
}

/* The layout each rank's record must have; 0 when the rank writes no such record. */
static int expected_shard(layout lay, int rank, int n, tt_key *want)
{
    want->shard_kind = TT_SHARD_NONE, want->shard_dim = want->shard_index = want->shard_count = -1;
    switch (lay) {
    case WHOLE:
        return rank == 0;
    case HEADS:
        want->shard_kind = TT_SHARD_SPLIT, want->shard_dim = 1, want->shard_index = rank, want->shard_count = n;
        return 1;
    case KV:
        want->shard_kind = TT_SHARD_SPLIT, want->shard_dim = 1;
        if (n > KV_HEADS) {
            int group = n / KV_HEADS;
            want->shard_index = rank / group, want->shard_count = KV_HEADS;
            return rank % group == 0;
        }
        want->shard_index = rank, want->shard_count = n;
        return 1;
    default:
        want->shard_kind = TT_SHARD_PARTIAL, want->shard_index = rank, want->shard_count = n;
        return 1;
    }
}

/* Each rank file: metadata, the rank of every record, the layouts, and nothing a rank should not write. */
static void check_rank_files(const tlc_trace *t, int n)
{
    char want[16];
    for (int r = 0; r < n; r++) {
        snprintf(want, sizeof want, "%d", r);
        const char *v = tt_reader_meta_get(t[r].rd, "rank");
        CHECK(v && !strcmp(v, want));
        snprintf(want, sizeof want, "%d", n);
        v = tt_reader_meta_get(t[r].rd, "world_size");
        CHECK(v && !strcmp(v, want));
        v = tt_reader_meta_get(t[r].rd, "tp");
        CHECK(v && !strcmp(v, want));
        size_t expected = 0;
        for (size_t i = 0; i < t[r].count; i++) {
            const tt_record *rec = &t[r].recs[i].r;
            tt_key k;
            CHECK_EQ_INT(rec->key.rank, r);
            int writes = expected_shard(layout_of(rec->key.point), r, n, &k);
            if (!writes) {
                fprintf(stderr, "rank %d of %d wrote %s layer %d\n", r, n, rec->key.point, rec->key.layer);
                tt_test_failures++;
                continue;
            }
            CHECK_EQ_INT(rec->key.shard_kind, k.shard_kind);
            CHECK_EQ_INT(rec->key.shard_dim, k.shard_dim);
            CHECK_EQ_INT(rec->key.shard_index, k.shard_index);
            CHECK_EQ_INT(rec->key.shard_count, k.shard_count);
        }
        /* and every record a rank should write is there: per prompt and phase, embed_out and logits (rank 0)
         * plus the layer points this rank writes */
        for (int p = 0; p < 2; p++)
            for (int ph = 0; ph < 2; ph++) {
                for (int l = 0; l < LAYERS; l++)
                    for (int j = 0; j < TLC_LAYER_POINTS; j++) {
                        tt_key k;
                        if (!expected_shard(layout_of(tlc_layer_points[j]), r, n, &k))
                            continue;
                        int dups = 0;
                        CHECK(tlc_find(&t[r], prompts[p], phases[ph], tlc_layer_points[j], l, &dups) != NULL);
                        CHECK_EQ_INT(dups, 0);
                        expected++;
                    }
                expected += r == 0 ? 2 : 0;
            }
        CHECK_EQ_U64(t[r].count, expected);
    }
}

/* The whole tensor from its shards, in doubles, with the shape of the reference. NULL when a shard is missing
 * or does not fit. */
static double *gather(const tlc_trace *t, int n, const tlc_rec *ref, int *bitwise_ok)
{
    const tt_key *k = &ref->r.key;
    layout lay = layout_of(k->point);
    double *out = calloc(ref->n ? ref->n : 1, sizeof *out);
    const tlc_rec *shards[MAX_TP];
    int ns = 0;
    for (int r = 0; r < n; r++) {
        tt_key want;
        if (!expected_shard(lay, r, n, &want))
            continue;
        shards[ns] = tlc_find(&t[r], k->prompt_id, k->phase, k->point, k->layer, NULL);
        if (!shards[ns] || !shards[ns]->d) {
            free(out);
            return NULL;
        }
        ns++;
    }
    *bitwise_ok = 0;
    if (lay == WHOLE || lay == PARTIAL) {
        for (int s = 0; s < ns; s++) {
            if (shards[s]->n != ref->n) {
                free(out);
                return NULL;
            }
            for (size_t i = 0; i < ref->n; i++)
                out[i] += shards[s]->d[i]; /* addends in rank order; a whole tensor is its one addend */
        }
        *bitwise_ok = lay == WHOLE;
        return out;
    }
    /* SPLIT along dimension 1: row-major, so each index of dimension 0 holds one block per shard in order */
    size_t outer = ref->r.shape[0], at = 0;
    for (size_t o = 0; o < outer; o++)
        for (int s = 0; s < ns; s++) {
            size_t block = shards[s]->n / outer;
            if (at + block > ref->n) {
                free(out);
                return NULL;
            }
            memcpy(out + at, shards[s]->d + o * block, block * sizeof *out);
            at += block;
        }
    *bitwise_ok = 1;
    return at == ref->n ? out : (free(out), NULL);
}

/* Compares the gathered tensor with the reference: whether it is within the drift tolerance of the tests
 * (tinylm_check.h: f32 max |a - b| over max |a|; bf16 the same in bf16 ulps of max |a|), in *err that measure,
 * and whether bitwise (as doubles, which hold f32 and bf16 exactly). */
static int compare(const tlc_rec *ref, const double *g, tt_dtype dt, double *err, int *bitwise)
{
    double max_abs = 0, absmax = 0;
    *bitwise = 1;
    for (size_t i = 0; i < ref->n; i++) {
        double a = ref->d[i], b = g[i];
        if (isfinite(a) && fabs(a) > absmax)
            absmax = fabs(a);
        if (a != b && !(isinf(a) && isinf(b) && (a > 0) == (b > 0))) {
            *bitwise = 0;
            double d = isfinite(a) && isfinite(b) ? fabs(a - b) : INFINITY;
            max_abs = d > max_abs ? d : max_abs;
        }
    }
    if (dt == TT_BF16) {
        double ulp = absmax > 0 ? ldexp(1.0, (int)floor(log2(absmax)) - 7) : 1.0; /* 8 significant bits */
        *err = max_abs / ulp;
        return *err <= TLC_BF16_ULP_TOL;
    }
    *err = absmax > 0 ? max_abs / absmax : max_abs;
    return *err <= TLC_F32_REL_TOL;
}

static void check_reassembly(const tlc_trace *ref, const tlc_trace *t, int n, tt_dtype dt)
{
    int not_bitwise = 0;
    for (size_t i = 0; i < ref->count; i++) {
        const tlc_rec *a = &ref->recs[i];
        int split_ok = 0, bitwise;
        double err;
        double *g = gather(t, n, a, &split_ok);
        if (!g) {
            fprintf(stderr, "tp %d: %s %s L%d: shards missing or misshapen\n", n, a->r.key.phase, a->r.key.point,
                    a->r.key.layer);
            tt_test_failures++;
            continue;
        }
        int within = compare(a, g, dt, &err, &bitwise);
        layout lay = layout_of(a->r.key.point);
        if (!within) {
            fprintf(stderr, "tp %d %s: %s %s %s L%d: %.3g %s beyond drift\n", n, tt_dtype_name(dt),
                    a->r.key.prompt_id, a->r.key.phase, a->r.key.point, a->r.key.layer, err,
                    dt == TT_BF16 ? "ulps" : "rel");
            tt_test_failures++;
        }
        /* before the first all-reduce (embed_out, layer 0 up to the attention) the shards are TP=1's slices */
        if (a->r.key.layer == 0 && lay != PARTIAL && lay != WHOLE && !bitwise) {
            fprintf(stderr, "tp %d %s: %s %s L0 shards are not TP=1's slices\n", n, tt_dtype_name(dt),
                    a->r.key.phase, a->r.key.point);
            tt_test_failures++;
        }
        not_bitwise += !bitwise;
        free(g);
    }
    /* the all-reduce adds the partial sums in another order than TP=1's single pass */
    CHECK(not_bitwise > 0);
}

static void check_tp(int n, const char *dtype, const tlc_trace *ref)
{
    char name[64];
    snprintf(name, sizeof name, "tp%d_%s", n, dtype);
    tlc_trace t[MAX_TP];
    memset(t, 0, sizeof t);
    if (run_tp(name, n, dtype, NULL, NULL) == 0 && load_ranks(name, n, t) == 0) {
        check_rank_files(t, n);
        check_reassembly(ref, t, n, strcmp(dtype, "bf16") ? TT_F32 : TT_BF16);
    }
    for (int r = 0; r < n; r++)
        tlc_trace_free(&t[r]);
}

/* A bug on rank 2 of 4: decode0's q_post_rope differs from the correct run in rank 2's shard only. */
static void check_bug_rank(void)
{
    tlc_trace good[4], bad[4];
    memset(good, 0, sizeof good);
    memset(bad, 0, sizeof bad);
    if (run_tp("tp4_f32", 4, "f32", NULL, NULL) == 0 && run_tp("tp4_rope", 4, "f32", "rope-pos", "2") == 0 &&
        load_ranks("tp4_f32", 4, good) == 0 && load_ranks("tp4_rope", 4, bad) == 0) {
        for (int p = 0; p < 2; p++)
            for (int r = 0; r < 4; r++) {
                const tlc_rec *a = tlc_find(&good[r], prompts[p], "decode0", "q_post_rope", 0, NULL);
                const tlc_rec *b = tlc_find(&bad[r], prompts[p], "decode0", "q_post_rope", 0, NULL);
                CHECK(a && b);
                if (!a || !b)
                    continue;
                tlc_cmp c;
                tlc_compare(a, b, &c);
                if (r == 2)
                    CHECK(tlc_over(&c, TT_F32));
                else
                    CHECK(c.bitwise);
                /* the bug is decode's: every prefill_last shard is unchanged */
                a = tlc_find(&good[r], prompts[p], "prefill_last", "q_post_rope", 0, NULL);
                b = tlc_find(&bad[r], prompts[p], "prefill_last", "q_post_rope", 0, NULL);
                CHECK(a && b);
                if (a && b) {
                    tlc_compare(a, b, &c);
                    CHECK(c.bitwise);
                }
            }
        const char *v = tt_reader_meta_get(bad[2].rd, "bug_rank");
        CHECK(v && !strcmp(v, "2"));
    }
    for (int r = 0; r < 4; r++) {
        tlc_trace_free(&good[r]);
        tlc_trace_free(&bad[r]);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_tinylm_tp TINYLM OUTDIR\n");
        return 2;
    }
    g_bin = argv[1];
    g_dir = argv[2];
    tlc_prepare(g_dir);

    static const char *const dtypes[2] = {"f32", "bf16"};
    for (int d = 0; d < 2; d++) {
        char name[32];
        snprintf(name, sizeof name, "tp1_%s", dtypes[d]);
        tlc_trace ref;
        memset(&ref, 0, sizeof ref);
        char file[48];
        snprintf(file, sizeof file, "tp1_%s.tt", dtypes[d]);
        if (run_tp(name, 1, dtypes[d], NULL, NULL) == 0 && tlc_trace_load(&ref, path_in_dir(file)) == 0) {
            /* --tp 1 is the plain engine: every record whole, rank 0 */
            for (size_t i = 0; i < ref.count; i++) {
                CHECK_EQ_INT(ref.recs[i].r.key.shard_kind, TT_SHARD_NONE);
                CHECK_EQ_INT(ref.recs[i].r.key.rank, 0);
            }
            for (int n = 2; n <= 8; n *= 2)
                check_tp(n, dtypes[d], &ref);
        } else {
            tt_test_failures++;
        }
        tlc_trace_free(&ref);
    }
    check_bug_rank();
    return tt_test_exit();
}
