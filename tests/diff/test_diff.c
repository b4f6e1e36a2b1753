/*
 * test_diff.c — unit and synthetic-trace tests of the diff engine through its public header (tt/diff.h): the
 * tolerance parser and tables, metrics on hand-computed cases (NaN/Inf, ULP, coordinates), verdicts, pairing
 * (duplicates, missing -> TRACE_OFFSET, row alignment), stage order and root-cause names, the legacy probe
 * reproduced (seed 004: 48 pairs, 6 pass, first failure attn_out layer 0), kv_aligned N/A, bad inputs.
 * Usage: test_diff OUTDIR
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tt/diff.h"
#include "tt/dtype.h"
#include "tt/reader.h"
#include "tt/writer.h"
#include "tt_test.h"

static char g_dir[512];

static const char *path_of(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static tt_writer *open_w(const char *name)
{
    tt_writer_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.ignore_env = 1;
    o.overwrite = 1;
    o.threads = 1;
    tt_writer *w = NULL;
    int rc = tt_writer_open(&w, path_of(name), &o);
    if (rc != TT_OK) {
        fprintf(stderr, "cannot open %s: %s\n", name, w ? tt_writer_errmsg(w) : tt_strerror(rc));
        exit(1);
    }
    return w;
}

static void put(tt_writer *w, const char *prompt, const char *phase, const char *point, int layer, int pos, int rows,
                tt_dtype dt, int ndim, const uint64_t *shape, const void *data)
{
    tt_key k = TT_KEY_INIT;
    k.prompt_id = prompt;
    k.phase = phase;
    k.point = point;
    k.layer = layer;
    k.step = strcmp(phase, "decode0") == 0 ? 1 : 0;
    k.token_id = 7;
    k.logical_tok_idx = pos;
    k.pos_id = pos;
    k.rows = rows;
    int rc = tt_put(w, &k, dt, ndim, shape, data);
    if (rc != TT_OK) {
        fprintf(stderr, "put %s: %s\n", point, tt_writer_errmsg(w));
        exit(1);
    }
}

static void close_w(tt_writer *w)
{
    if (tt_writer_close(w) != TT_OK) {
        fprintf(stderr, "close: %s\n", tt_writer_errmsg(w));
        exit(1);
    }
    tt_writer_free(w);
}

/* conditions separated by ';' */
static tt_filter *filt(const char *conds)
{
    tt_filter *f = tt_filter_new();
    char buf[512];
    snprintf(buf, sizeof buf, "%s", conds ? conds : "");
    for (char *c = strtok(buf, ";"); c; c = strtok(NULL, ";"))
        CHECK_STATUS(tt_filter_add(f, c, NULL, 0), TT_OK);
    return f;
}

static tt_diff *run(const char *l, const char *lc, const char *r, const char *rc_, const tt_diff_options *o,
                    int expect)
{
    tt_filter *lf = filt(lc), *rf = filt(rc_);
    tt_diff *d = NULL;
    int rc = tt_diff_run(&d, path_of(l), lf, r ? path_of(r) : NULL, rf, o);
    if (rc != expect)
        fprintf(stderr, "tt_diff_run(%s, %s) = %s (%s), expected %s\n", l, r ? r : "-", tt_status_name(rc),
                tt_diff_errmsg(d), tt_status_name(expect));
    CHECK_EQ_INT(rc, expect);
    tt_filter_free(lf);
    tt_filter_free(rf);
    return d;
}

static const tt_diff_pair *find_pair(const tt_diff *d, const char *point, int layer)
{
    for (uint64_t i = 0; i < tt_diff_pair_count(d); i++) {
        const tt_diff_pair *p = tt_diff_pair_at(d, i);
        if (strcmp(p->point, point) == 0 && p->layer == layer)
            return p;
    }
    return NULL;
}

/* ---- tolerances ---------------------------------------------------------------------------------------------- */

static void test_tol_parser(void)
{
    char err[256];
    tt_diff_tols *t = tt_diff_tols_new();
    const char *good = "# tolerances\n"
                       "attn_out 3 1e-3 1e-5\r\n"
                       "\n"
                       "attn_out * 2e-3 4e-3rms   # comment\n"
                       "*\t*\t0.5\t0\n"
                       "mlp_out -1 0 0\n";
    CHECK_STATUS(tt_diff_tol_parse(good, strlen(good), t, err, sizeof err), TT_OK);
    CHECK_EQ_U64(tt_diff_tols_count(t), 4);
    /* the formatted table parses back to the same entries */
    char *text = NULL;
    CHECK_STATUS(tt_diff_tols_format(t, &text), TT_OK);
    tt_diff_tols *t2 = tt_diff_tols_new();
    CHECK_STATUS(tt_diff_tol_parse(text, strlen(text), t2, err, sizeof err), TT_OK);
    CHECK_EQ_U64(tt_diff_tols_count(t2), 4);
    free(text);
    tt_diff_tols_free(t2);

    static const struct {
        const char *text;
        const char *want; /* substring of the message */
        int rc;
    } bad[] = {
        {"attn_out 3 1e-3\n", "line 1, column", TT_E_PARSE},
        {"attn_out 3 1e-3 1e-5 extra\n", "line 1, column 22", TT_E_PARSE},
        {"ok 1 0 0\nattn_out x 1 1\n", "line 2, column 10: 'x' is not a layer", TT_E_PARSE},
        {"attn_out 1 -1 0\n", "column 12", TT_E_PARSE},
        {"attn_out 1 nan 0\n", "is not a tolerance", TT_E_PARSE},
        {"attn_out 1 1 inf\n", "column 14", TT_E_PARSE},
        {"attn_out 1 1 1rmsx\n", "not an absolute tolerance", TT_E_PARSE},
        {"a 1 1 1\nb 2 1 1\na 1 2 2\n", "line 3, column 1: duplicate entry for a layer 1 (first on line 1)", TT_E_PARSE},
        {"a -2 1 1\n", "is not a layer", TT_E_PARSE},
        {"a 1 0x10 1\n", "is not a tolerance", TT_E_PARSE},
        {"a\x01 1 1 1\n", "control character", TT_E_PARSE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tt_diff_tols *x = tt_diff_tols_new();
        int rc = tt_diff_tol_parse(bad[i].text, strlen(bad[i].text), x, err, sizeof err);
        CHECK_EQ_INT(rc, bad[i].rc);
        if (!strstr(err, bad[i].want)) {
            fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", i, err, bad[i].want);
            tt_test_failures++;
        }
        tt_diff_tols_free(x);
    }
    /* NUL bytes and a missing final newline; an overlong line */
    const char nul[] = {'a', ' ', '1', '\0', '1', ' ', '1'};
    CHECK_STATUS(tt_diff_tol_parse(nul, sizeof nul, t, err, sizeof err), TT_E_PARSE);
    char *longl = malloc(5000);
    memset(longl, 'a', 5000);
    CHECK_STATUS(tt_diff_tol_parse(longl, 5000, t, err, sizeof err), TT_E_LIMIT);
    free(longl);
    CHECK_STATUS(tt_diff_tol_parse("", 0, t, err, sizeof err), TT_OK);

    /* a table at the entry limit (65,536): every entry kept, one more refused, an existing one replaced */
    {
        size_t cap = (size_t)65536 * 32, n = 0;
        char *big = malloc(cap);
        for (int i = 0; i < 65536; i++)
            n += (size_t)snprintf(big + n, cap - n, "p%d %d 0.%d 0\n", i % 4096, i / 4096, i % 10);
        tt_diff_tols *x = tt_diff_tols_new();
        CHECK_STATUS(tt_diff_tol_parse(big, n, x, err, sizeof err), TT_OK);
        CHECK_EQ_U64(tt_diff_tols_count(x), 65536);
        CHECK_STATUS(tt_diff_tols_set(x, "p0", 0, 16, 1, 0, 0, NULL), TT_E_LIMIT);
        CHECK_STATUS(tt_diff_tols_set(x, "p4095", 0, 15, 1, 0, 0, NULL), TT_OK);
        CHECK_STATUS(tt_diff_tols_set(x, "p4095", 1, -1, 1, 0, 0, NULL), TT_E_LIMIT); /* any-layer is its own key */
        CHECK_EQ_U64(tt_diff_tols_count(x), 65536);
        /* the format lists them all, sorted, and parses back to the same count */
        char *ftext = NULL;
        CHECK_STATUS(tt_diff_tols_format(x, &ftext), TT_OK);
        tt_diff_tols *y = tt_diff_tols_new();
        CHECK_STATUS(tt_diff_tol_parse(ftext, strlen(ftext), y, err, sizeof err), TT_OK);
        CHECK_EQ_U64(tt_diff_tols_count(y), 65536);
        free(ftext);
        tt_diff_tols_free(y);
        tt_diff_tols_free(x);
        free(big);
    }

    /* command-line specs */
    CHECK_STATUS(tt_diff_tol_spec(t, "attn_out=1e-2:3e-3", err, sizeof err), TT_OK);
    CHECK_STATUS(tt_diff_tol_spec(t, "q_pre_rope@2=1e-2:3e-3rms", err, sizeof err), TT_OK);
    CHECK_STATUS(tt_diff_tol_spec(t, "attn_out", err, sizeof err), TT_E_PARSE);
    CHECK_STATUS(tt_diff_tol_spec(t, "attn_out=1", err, sizeof err), TT_E_PARSE);
    CHECK_STATUS(tt_diff_tol_spec(t, "attn_out@x=1:1", err, sizeof err), TT_E_PARSE);
    CHECK_STATUS(tt_diff_tol_spec(t, "=1:1", err, sizeof err), TT_E_PARSE);
    CHECK_STATUS(tt_diff_tols_set(t, "x", 1, 0, -1, 0, 0, NULL), TT_E_INVAL);
    tt_diff_tols_free(t);

    double r, a, s;
    tt_diff_default_tol(TT_BF16, &r, &a, &s);
    CHECK_NEAR(r, 4 * 0x1p-7, 1e-15);
    CHECK_NEAR(s, 16 * 0x1p-7, 1e-15);
    tt_diff_default_tol(TT_I32, &r, &a, &s);
    CHECK(r == 0 && a == 0 && s == 0);
}

/* ---- metrics and verdicts ------------------------------------------------------------------------------------ */

static void test_metrics(void)
{
    /* left vs right, f32, shape [2,3] */
    const float l[6] = {1.0f, 2.0f, 3.0f, -4.0f, 5.0f, 6.0f};
    const float r[6] = {1.0f, 2.5f, 3.0f, -4.0f, 5.0f, 6.0f + 6.0f * 0x1p-23f};
    const uint64_t sh[2] = {2, 3};
    tt_writer *w = open_w("m.tt");
    put(w, "p", "prefill_last", "attn_out", 0, 5, 2, TT_F32, 2, sh, l);
    put(w, "p", "decode0", "attn_out", 0, 5, 2, TT_F32, 2, sh, r);
    /* NaN and Inf patterns */
    const float ln[4] = {NAN, INFINITY, 1.0f, NAN};
    const float rn[4] = {NAN, -INFINITY, NAN, 2.0f};
    const uint64_t s4[1] = {4};
    put(w, "p", "prefill_last", "mlp_out", 0, 5, 4, TT_F32, 1, s4, ln);
    put(w, "p", "decode0", "mlp_out", 0, 5, 4, TT_F32, 1, s4, rn);
    /* bitwise equal: MATCH by hash */
    put(w, "p", "prefill_last", "embed_out", -1, 5, 2, TT_F32, 2, sh, l);
    put(w, "p", "decode0", "embed_out", -1, 5, 2, TT_F32, 2, sh, l);
    /* within tolerance: 1 ulp */
    put(w, "p", "prefill_last", "residual_pre_attn", 0, 5, 2, TT_F32, 2, sh, r);
    float r1[6];
    memcpy(r1, r, sizeof r1);
    r1[0] = nextafterf(r1[0], 2.0f);
    put(w, "p", "decode0", "residual_pre_attn", 0, 5, 2, TT_F32, 2, sh, r1);
    close_w(w);

    tt_diff_options o = TT_DIFF_OPTIONS_INIT;
    o.threads = 2;
    tt_diff *d = run("m.tt", NULL, NULL, NULL, &o, TT_OK);
    const tt_diff_pair *p = find_pair(d, "attn_out", 0);
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ_INT(p->verdict, TT_DIFF_MISMATCH);
        CHECK_NEAR(p->m.max_abs, 0.5, 1e-12);
        CHECK_EQ_U64(p->m.max_abs_index, 1);
        CHECK_EQ_U64(p->m.max_abs_coord[0], 0);
        CHECK_EQ_U64(p->m.max_abs_coord[1], 1);
        double r5 = (double)r[5];
        double nr = sqrt(1 + 6.25 + 9 + 16 + 25 + r5 * r5);
        double nd = sqrt(0.25 + (r5 - 6.0) * (r5 - 6.0));
        CHECK_NEAR(p->m.rel_l2, nd / nr, 1e-12);
        CHECK_EQ_U64(p->m.diff_elems, 2);
        /* 2.0 vs 2.5: 0.5 / 2^-22 (the ulp of the binade [2,4)) */
        CHECK_NEAR(p->m.max_ulp, (double)(1 << 21), 0.5);
        CHECK_EQ_U64(p->m.outside_tol, 1);
        CHECK_EQ_STR(p->root_cause, "ATTN_OUT_DRIFT");
    }
    p = find_pair(d, "mlp_out", 0);
    if (p) {
        CHECK_EQ_U64(p->m.nan_mismatch, 2);
        CHECK_EQ_U64(p->m.inf_mismatch, 1);
        CHECK_EQ_INT(p->verdict, TT_DIFF_MISMATCH);
    }
    p = find_pair(d, "embed_out", -1);
    if (p) {
        CHECK_EQ_INT(p->verdict, TT_DIFF_MATCH);
        CHECK(p->flags & TT_DIFF_PAIR_HASH_SKIP);
    }
    p = find_pair(d, "residual_pre_attn", 0);
    if (p) {
        CHECK_EQ_INT(p->verdict, TT_DIFF_WITHIN_TOL);
        CHECK_NEAR(p->m.max_ulp, 1, 0);
    }
    CHECK_EQ_INT(tt_diff_overall_verdict(d), TT_DIFF_OVERALL_MISMATCH);
    const tt_diff_failure *f = tt_diff_first_failure(d);
    CHECK(f != NULL);
    if (f) {
        /* pipeline order: attn_out before mlp_out in layer 0 */
        CHECK_EQ_STR(f->point, "attn_out");
        CHECK_EQ_INT(f->layer, 0);
        CHECK(f->detail);
        CHECK(f->nworst >= 1 && f->worst[0].abs_err == 0.5);
        uint64_t tot = 0;
        for (int i = 0; i < TT_DIFF_HIST_BINS + 2; i++)
            tot += f->hist_counts[i];
        CHECK_EQ_U64(tot, 6);
        CHECK_EQ_U64(f->hist_counts[0], 4); /* four exact zeros */
    }
    uint64_t nch;
    tt_diff_chain(d, &nch);
    CHECK_EQ_U64(nch, 1); /* mlp_out after attn_out */
    tt_diff_free(d);

    /* as_designed: the 1-ulp pair FAILs by hash */
    o.mode = TT_DIFF_AS_DESIGNED;
    d = run("m.tt", NULL, NULL, NULL, &o, TT_OK);
    p = find_pair(d, "residual_pre_attn", 0);
    if (p) {
        CHECK_EQ_INT(p->verdict, TT_DIFF_MISMATCH);
        CHECK_EQ_INT(p->numeric_verdict, TT_DIFF_WITHIN_TOL);
    }
    f = tt_diff_first_failure(d);
    if (f)
        CHECK_EQ_STR(f->root_cause, "RESIDUAL_PRE_ATTN_DRIFT");
    tt_diff_free(d);

    /* tolerance overrides: residual_pre_attn exact */
    tt_diff_tols *t = tt_diff_tols_new();
    char err[128];
    CHECK_STATUS(tt_diff_tol_spec(t, "residual_pre_attn=0:0", err, sizeof err), TT_OK);
    tt_diff_options o2 = TT_DIFF_OPTIONS_INIT;
    o2.tols = t;
    d = run("m.tt", NULL, NULL, NULL, &o2, TT_OK);
    tt_diff_tols_free(t); /* copied by the run */
    p = find_pair(d, "residual_pre_attn", 0);
    if (p) {
        CHECK_EQ_INT(p->verdict, TT_DIFF_MISMATCH);
        CHECK(strstr(p->m.tol_source, "--tol") != NULL);
    }
    /* calibration from this comparison makes it pass */
    tt_diff_tols *cal = NULL;
    CHECK_STATUS(tt_diff_calibrate(d, 4, &cal), TT_OK);
    tt_diff_free(d);
    o2.tols = cal;
    d = run("m.tt", "phase=prefill_last;point!=mlp_out", NULL, "phase=decode0;point!=mlp_out", &o2, TT_OK);
    CHECK_EQ_INT(tt_diff_overall_verdict(d), TT_DIFF_STRUCTURAL_DRIFT);
    p = find_pair(d, "attn_out", 0);
    if (p)
        CHECK_EQ_STR(p->m.tol_source, "calibrated");
    tt_diff_free(d);
    tt_diff_tols_free(cal);
}

/* ---- pairing, order, bad inputs ------------------------------------------------------------------------------ */

static void test_pairing(void)
{
    float v[4] = {1, 2, 3, 4};
    const uint64_t s4[1] = {4};
    tt_writer *w = open_w("pair.tt");
    put(w, "p", "prefill_last", "q_pre_rope", 0, 3, 1, TT_F32, 1, s4, v);
    put(w, "p", "decode0", "q_pre_rope", 0, 3, 1, TT_F32, 1, s4, v);
    float v2[4] = {1, 2, 3, 40};
    put(w, "p", "prefill_last", "q_post_rope", 0, 3, 1, TT_F32, 1, s4, v);
    put(w, "p", "decode0", "q_post_rope", 0, 3, 1, TT_F32, 1, s4, v2);
    put(w, "p", "prefill_last", "x_in", 0, 3, 1, TT_F32, 1, s4, v); /* unknown stage, duplicated */
    put(w, "p", "prefill_last", "x_in", 0, 3, 1, TT_F32, 1, s4, v);
    put(w, "p", "decode0", "x_in", 0, 3, 1, TT_F32, 1, s4, v);
    const uint64_t s22[2] = {2, 2};
    put(w, "p", "prefill_last", "mlp_out", 0, 3, 2, TT_F32, 2, s22, v);
    put(w, "p", "decode0", "mlp_out", 0, 3, 1, TT_F32, 1, s4, v); /* [2,2] vs [4]: do not fit */
    uint16_t b[4];
    tt_from_f32(TT_BF16, v, 4, b);
    put(w, "p", "prefill_last", "ffn_norm_in", 0, 3, 1, TT_F32, 1, s4, v);
    put(w, "p", "decode0", "ffn_norm_in", 0, 3, 1, TT_BF16, 1, s4, b); /* dtypes differ: compared by value */
    put(w, "p", "prefill_last", "attn_out", 1, 3, 1, TT_F32, 1, s4, v); /* unpaired */
    close_w(w);

    tt_diff_options o = TT_DIFF_OPTIONS_INIT;
    tt_diff *d = run("pair.tt", NULL, NULL, NULL, &o, TT_OK);
    tt_diff_counts c;
    tt_diff_counts_get(d, &c);
    CHECK_EQ_U64(c.missing, 2);    /* attn_out L1 and the extra x_in */
    CHECK_EQ_U64(c.duplicates, 2); /* the paired x_in and the unpaired one */
    CHECK_EQ_U64(c.errors, 1);
    const tt_diff_failure *f = tt_diff_first_failure(d);
    if (f) {
        /* q_pre_rope matched: q_post_rope is ROPE_DRIFT; x_in (captured after it... but duplicated) */
        CHECK_EQ_STR(f->point, "q_post_rope");
        CHECK_EQ_STR(f->root_cause, "ROPE_DRIFT");
    }
    const tt_diff_pair *p = find_pair(d, "attn_out", 1);
    if (p) {
        CHECK_EQ_INT(p->verdict, TT_DIFF_MISSING);
        CHECK_EQ_STR(p->root_cause, "TRACE_OFFSET");
    }
    p = find_pair(d, "mlp_out", 0);
    if (p) {
        CHECK(p->flags & TT_DIFF_PAIR_ERROR);
        CHECK(p->error && strstr(p->error, "do not fit"));
    }
    p = find_pair(d, "ffn_norm_in", 0);
    if (p) {
        CHECK(p->flags & TT_DIFF_PAIR_DTYPES);
        CHECK_EQ_INT(p->verdict, TT_DIFF_WITHIN_TOL); /* exact values in both types */
        CHECK(p->m.max_ulp == 0);                     /* in units of the coarser dtype */
        CHECK(p->j.ulp_dtype == (p->left.dtype == TT_F32 ? p->right.dtype : p->left.dtype));
    }
    /* the unknown stage x_in sits after q_post_rope, where it was captured */
    tt_diff_info in;
    tt_diff_info_get(d, &in);
    CHECK(strstr(in.stages, "q_post_rope,x_in,k_post_rope") != NULL);
    tt_diff_free(d);

    /* as_designed: a missing pair anywhere is the first failure (TRACE_OFFSET) */
    o.mode = TT_DIFF_AS_DESIGNED;
    d = run("pair.tt", NULL, NULL, NULL, &o, TT_OK);
    f = tt_diff_first_failure(d);
    if (f)
        CHECK_EQ_STR(f->root_cause, "TRACE_OFFSET");
    tt_diff_free(d);

    /* bad inputs */
    tt_diff_options z = TT_DIFF_OPTIONS_INIT;
    d = run("pair.tt", "phase=nothing", NULL, "phase=decode0", &z, TT_E_NOTFOUND);
    CHECK(strstr(tt_diff_errmsg(d), "left side") != NULL);
    tt_diff_free(d);
    d = run("pair.tt", "phase=prefill_last", NULL, "phase=nope", &z, TT_E_NOTFOUND);
    CHECK(strstr(tt_diff_errmsg(d), "right side") != NULL);
    tt_diff_free(d);
    d = run("pair.tt", "phase=prefill_last", NULL, NULL, &z, TT_E_INVAL); /* one filter only */
    tt_diff_free(d);
    d = run("missing.tt", NULL, NULL, NULL, &z, TT_E_IO);
    tt_diff_free(d);
    z.key = "prompt_id,layer";
    d = run("pair.tt", NULL, NULL, NULL, &z, TT_E_INVAL); /* no point in the key */
    tt_diff_free(d);
    z.key = "prompt_id,point,bogus";
    d = run("pair.tt", NULL, NULL, NULL, &z, TT_E_INVAL);
    CHECK(strstr(tt_diff_errmsg(d), "bogus") != NULL);
    tt_diff_free(d);
    z.key = "prompt_id,point,phase";
    d = run("pair.tt", NULL, NULL, NULL, &z, TT_E_MISMATCH); /* phase in the key of one file: no pair */
    tt_diff_free(d);
    /* not a trace */
    FILE *junk = fopen(path_of("junk.tt"), "wb");
    fputs("this is not a trace file, just text long enough to have a trailer of some size..........", junk);
    fclose(junk);
    z.key = NULL;
    d = run("junk.tt", NULL, NULL, NULL, &z, TT_E_NOTTRACE);
    tt_diff_free(d);
    tt_diff_free(NULL);
    CHECK_EQ_INT(tt_diff_overall_verdict(NULL), TT_DIFF_NA);
}

/* ---- row alignment ------------------------------------------------------------------------------------------ */

/* One decode-step record of prompt "p", layer 0, at position pos (token 100 + pos), one row. */
static void put_step(tt_writer *w, const char *phase, int step, const char *point, int pos, int ndim,
                     const uint64_t *shape, const float *data)
{
    tt_key k = TT_KEY_INIT;
    k.prompt_id = "p";
    k.phase = phase;
    k.point = point;
    k.layer = 0;
    k.step = step;
    k.token_id = 100 + pos;
    k.logical_tok_idx = pos;
    k.pos_id = pos;
    k.rows = 1;
    CHECK_STATUS(tt_put(w, &k, TT_F32, ndim, shape, data), TT_OK);
}

/* FILE's phase=prefill against RIGHT_PHASE, aligned by position; its counts into c. */
static tt_diff *run_aligned(const char *file, const char *right_phase, tt_diff_counts *c)
{
    tt_diff_options o = TT_DIFF_OPTIONS_INIT;
    o.align = TT_DIFF_ALIGN_POS;
    tt_diff *d = run(file, "phase=prefill", NULL, right_phase, &o, TT_OK);
    tt_diff_counts_get(d, c);
    return d;
}

static void test_align(void)
{
    /* a full prefill [4, 3] at pos 0 and decode steps at positions 2 and 3 */
    float full[12], row[3];
    for (int i = 0; i < 12; i++)
        full[i] = (float)i * 0.25f;
    const uint64_t s43[2] = {4, 3}, s13[2] = {1, 3};
    tt_writer *w = open_w("align.tt");
    put(w, "p", "prefill", "attn_out", 0, 0, 4, TT_F32, 2, s43, full);
    for (int pos = 2; pos < 4; pos++) {
        memcpy(row, full + 3 * pos, sizeof row);
        if (pos == 3)
            row[1] += 1.0f; /* a bug at position 3 */
        put_step(w, "decode0", 1, "attn_out", pos, 2, s13, row);
    }
    close_w(w);
    tt_diff_counts c;
    tt_diff *d = run_aligned("align.tt", "phase=decode0", &c);
    CHECK_EQ_U64(c.pairs, 2);
    CHECK_EQ_U64(c.match, 1);
    CHECK_EQ_U64(c.mismatch, 1);
    CHECK_EQ_U64(c.uncovered_rows, 2);
    const tt_diff_failure *f = tt_diff_first_failure(d);
    if (f) {
        const tt_diff_pair *p = tt_diff_pair_at(d, (uint64_t)f->pair);
        CHECK_EQ_U64(p->left.row_begin, 3);
        CHECK_EQ_U64(p->m.max_abs_coord[0], 3); /* in the left record's coordinates */
        CHECK_EQ_U64(p->m.max_abs_coord[1], 1);
        const tt_diff_group *g = tt_diff_group_at(d, f->group);
        CHECK_EQ_INT(g->pos_id, 3);
        CHECK_EQ_INT(g->token_id, 103);
    }
    tt_diff_free(d);
    /* without alignment nothing pairs: an input error */
    tt_diff_options o = TT_DIFF_OPTIONS_INIT;
    d = run("align.tt", "phase=prefill", NULL, "phase=decode0", &o, TT_E_MISMATCH);
    tt_diff_free(d);
}

/* Attention scores/probabilities of a prefill row (n columns, those past its position masked) against decode steps
 * over their own, shorter contexts: compared over the common leading columns, said in a note; a difference in those
 * columns is found at its place, in the prefill record's coordinates. */
static void test_common_columns(void)
{
    enum { N = 6, H = 2 };
    float scores[N * H * N], probs[N * H * N], drow[H * N], prow[H * N];
    for (int i = 0; i < N; i++)
        for (int h = 0; h < H; h++) {
            float sum = 0;
            for (int j = 0; j < N; j++) {
                float s = j <= i ? 0.1f * (float)((i * 7 + h * 3 + j * 5) % 11) : -INFINITY;
                scores[(i * H + h) * N + j] = s;
                probs[(i * H + h) * N + j] = j <= i ? expf(s) : 0.0f;
                sum += j <= i ? expf(s) : 0.0f;
            }
            for (int j = 0; j < N; j++)
                probs[(i * H + h) * N + j] /= sum;
        }
    const uint64_t sfull[3] = {N, H, N};
    tt_writer *w = open_w("columns.tt");
    put(w, "p", "prefill", "attn_scores", 0, 0, N, TT_F32, 3, sfull, scores);
    put(w, "p", "prefill", "attn_probs", 0, 0, N, TT_F32, 3, sfull, probs);
    for (int pos = 3; pos < N; pos++) { /* three decode steps at positions 3, 4, 5: pos + 1 keys each */
        const uint64_t srow[3] = {1, H, (uint64_t)pos + 1};
        for (int h = 0; h < H; h++)
            for (int j = 0; j <= pos; j++) {
                drow[h * (pos + 1) + j] = scores[(pos * H + h) * N + j];
                prow[h * (pos + 1) + j] = probs[(pos * H + h) * N + j];
            }
        if (pos == 4)
            prow[1 * (pos + 1) + 2] += 0.25f; /* a wrong probability at position 4, head 1, key 2 */
        put_step(w, "decode", pos, "attn_scores", pos, 3, srow, drow);
        put_step(w, "decode", pos, "attn_probs", pos, 3, srow, prow);
    }
    close_w(w);
    tt_diff_counts c;
    tt_diff *d = run_aligned("columns.tt", "phase=decode", &c);
    CHECK_EQ_U64(c.pairs, 6);
    CHECK_EQ_U64(c.errors, 0); /* none "not comparable" */
    CHECK_EQ_U64(c.mismatch, 1);
    for (uint64_t i = 0; i < tt_diff_pair_count(d); i++) {
        const tt_diff_pair *p = tt_diff_pair_at(d, i);
        CHECK(p->flags & TT_DIFF_PAIR_COMPARED);
        /* scores: equal over the common columns, -inf both sides where masked in neither: bitwise */
        if (strcmp(p->point, "attn_scores") == 0)
            CHECK_EQ_INT(p->numeric_verdict, TT_DIFF_MATCH);
        if (strcmp(p->point, "attn_probs") == 0)
            CHECK_EQ_U64(p->m.elems, (uint64_t)H * (p->right.shape[2]));
    }
    const tt_diff_failure *f = tt_diff_first_failure(d);
    CHECK(f != NULL);
    if (f) {
        const tt_diff_pair *p = tt_diff_pair_at(d, (uint64_t)f->pair);
        CHECK_EQ_STR(p->point, "attn_probs");
        CHECK_EQ_U64(p->left.row_begin, 4);
        CHECK_EQ_U64(p->m.max_abs_coord[0], 4); /* in the prefill record's coordinates: row 4, head 1, key 2 */
        CHECK_EQ_U64(p->m.max_abs_coord[1], 1);
        CHECK_EQ_U64(p->m.max_abs_coord[2], 2);
        CHECK(f->nworst > 0 && f->worst[0].coord[1] == 1 && f->worst[0].coord[2] == 2);
    }
    int noted = 0;
    for (uint64_t i = 0; i < tt_diff_evidence_count(d); i++) {
        const tt_diff_evidence *e = tt_diff_evidence_at(d, i);
        /* four pairs (positions 3 and 4) have fewer columns than the prefill rows; position 5 has as many */
        if (e->kind == TT_DIFF_EV_NOTE && strstr(e->text, "common leading 4 columns") && e->a == 4)
            noted = 1;
    }
    CHECK(noted);
    /* calibration reads the pairs again, over the same columns: the scores, equal there, must stay exact */
    tt_diff_tols *t = NULL;
    char *text = NULL;
    CHECK_STATUS(tt_diff_calibrate(d, 4, &t), TT_OK);
    CHECK_STATUS(tt_diff_tols_format(t, &text), TT_OK);
    const char *line = text ? strstr(text, "\nattn_scores") : NULL;
    CHECK(line != NULL);
    if (line) {
        const char *end = strchr(line + 1, '\n');
        char buf[128];
        snprintf(buf, sizeof buf, "%.*s", end ? (int)(end - line - 1) : 100, line + 1);
        if (!strstr(buf, " 0rms"))
            fprintf(stderr, "calibrated: '%s'\n", buf);
        CHECK(strstr(buf, " 0rms") != NULL);
    }
    free(text);
    tt_diff_tols_free(t);
    tt_diff_free(d);
}

/* ---- legacy probe (seed 004) -------------------------------------------------------------------------------- */

static void legacy_put(tt_writer *w, const char *prompt, const char *phase, const char *point, int layer,
                       uint64_t hash, double mn, double mx, double mean)
{
    tt_record r;
    memset(&r, 0, sizeof r);
    tt_key k = TT_KEY_INIT;
    k.prompt_id = prompt;
    k.phase = phase;
    k.point = point;
    k.layer = layer;
    k.step = strcmp(phase, "decode0") == 0;
    k.pos_id = 37;
    k.rows = strcmp(phase, "decode0") == 0 ? 1 : 38;
    r.key = k;
    r.dtype = TT_DTYPE_UNKNOWN;
    r.flags = TT_REC_HAS_HASH | TT_REC_HAS_STATS;
    r.hash = hash;
    r.stats.min = mn;
    r.stats.max = mx;
    r.stats.mean = mean;
    r.stats.absmax = r.stats.l2 = NAN;
    CHECK_STATUS(tt_put_record(w, &r, NULL), TT_OK);
}

static void test_legacy(void)
{
    /* 3 prompts x (layer 0: embed_out x_in attn_out mlp_out; layers 1 2 4 8: x_in attn_out mlp_out) */
    static const char *const prompts[] = {"p0_short", "p6_len_16", "p6_len_32"};
    static const int layers[] = {0, 1, 2, 4, 8};
    tt_writer *w = open_w("legacy.tt");
    for (int ph = 0; ph < 2; ph++)
        for (int pi = 0; pi < 3; pi++)
            for (int li = 0; li < 5; li++) {
                const char *phase = ph ? "decode0" : "prefill_last";
                int L = layers[li];
                uint64_t base = (uint64_t)(pi * 100 + L * 10);
                if (L == 0)
                    legacy_put(w, prompts[pi], phase, "embed_out", L, base + 1, -1, 1, 0);
                legacy_put(w, prompts[pi], phase, "x_in", L, L == 0 ? base + 2 : base + 2 + (uint64_t)ph * 1000,
                           -1, 1, 0);
                if (L == 0 && pi == 0)
                    legacy_put(w, prompts[pi], phase, "attn_out", L, base + 3 + (uint64_t)ph * 1000,
                               ph ? -0.00519423 : -0.00517679, ph ? 0.00725079 : 0.00719859,
                               ph ? -0.0000474128 : -0.0000471849);
                else
                    legacy_put(w, prompts[pi], phase, "attn_out", L, base + 3 + (uint64_t)ph * 1000, -1, 1, 0);
                legacy_put(w, prompts[pi], phase, "mlp_out", L, base + 4 + (uint64_t)ph * 1000, -1, 1.5 + ph, 0);
            }
    close_w(w);
    tt_diff_options o = TT_DIFF_OPTIONS_INIT;
    o.mode = TT_DIFF_AS_DESIGNED;
    tt_diff *d = run("legacy.tt", NULL, NULL, NULL, &o, TT_OK);
    tt_diff_counts c;
    tt_diff_counts_get(d, &c);
    CHECK_EQ_U64(c.pairs, 48);
    CHECK_EQ_U64(c.match, 6);
    CHECK_EQ_U64(c.mismatch, 42);
    CHECK_EQ_U64(c.missing, 0);
    CHECK_EQ_U64(c.stats_only, 48);
    CHECK_EQ_INT(tt_diff_overall_verdict(d), TT_DIFF_OVERALL_MISMATCH);
    const tt_diff_failure *f = tt_diff_first_failure(d);
    if (f) {
        CHECK_EQ_STR(f->point, "attn_out");
        CHECK_EQ_INT(f->layer, 0);
        CHECK_EQ_STR(f->root_cause, "ATTN_OUT_DRIFT");
        CHECK_EQ_STR(tt_diff_group_at(d, f->group)->prompt_id, "p0_short");
    }
    /* root causes over the groups: x_in (not in the stage list) is X_IN_DRIFT */
    int xin = 0;
    for (uint64_t i = 0; i < tt_diff_pair_count(d); i++) {
        const tt_diff_pair *p = tt_diff_pair_at(d, i);
        if (p->verdict == TT_DIFF_MISMATCH && strcmp(p->point, "x_in") == 0)
            xin += strcmp(p->root_cause, "X_IN_DRIFT") == 0;
    }
    CHECK_EQ_INT(xin, 12);
    /* stats-only evidence is there */
    int stats_ev = 0;
    for (uint64_t i = 0; i < tt_diff_evidence_count(d); i++)
        stats_ev += tt_diff_evidence_at(d, i)->kind == TT_DIFF_EV_STATS;
    CHECK(stats_ev >= 42);
    tt_diff_free(d);

    /* kv_aligned on hash/stats-only records: N/A */
    o.mode = TT_DIFF_KV_ALIGNED;
    d = run("legacy.tt", NULL, NULL, NULL, &o, TT_OK);
    CHECK_EQ_INT(tt_diff_overall_verdict(d), TT_DIFF_NA);
    CHECK(tt_diff_subcause(d) != NULL);
    tt_diff_free(d);
    /* numeric: the attn_out stats (3.4e-3 relative) are within the unknown dtype's tolerance */
    o.mode = TT_DIFF_NUMERIC;
    d = run("legacy.tt", "phase=prefill_last;prompt_id=p0_short", NULL, "phase=decode0;prompt_id=p0_short", &o, TT_OK);
    const tt_diff_pair *p = find_pair(d, "attn_out", 0);
    if (p) {
        CHECK(p->flags & TT_DIFF_PAIR_STATS_ONLY);
        CHECK_EQ_INT(p->verdict, TT_DIFF_WITHIN_TOL);
    }
    tt_diff_free(d);
}

int main(int argc, char **argv)
{
    snprintf(g_dir, sizeof g_dir, "%s", argc > 1 ? argv[1] : "diff_test_out");
    /* mkdir -p: on a fresh build the parent (out/) does not exist yet */
    for (char *q = g_dir + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            mkdir(g_dir, 0777);
            *q = '/';
        }
    mkdir(g_dir, 0777);
    test_tol_parser();
    test_metrics();
    test_pairing();
    test_align();
    test_common_columns();
    test_legacy();
    return tt_test_exit();
}
