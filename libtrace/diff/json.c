/*
 * json.c — the JSON document of a diff (schemas/diff.schema.json, "tensortrace.diff/1"): verdict, counts,
 * first failure with its histogram and worst elements, chain, groups, every pair with both sides and metrics,
 * evidence, KV checks and both files' metadata — what tracereport needs to draw its heat map, growth curves and
 * drill-downs without reading the traces again. Non-finite numbers are written as null (JSON has no inf/NaN);
 * 64-bit hashes as 16 hex digits and as a decimal string (the seeds' JSONL form).
 *
 * One renderer for every caller (tracediff --json, the Python package's tt.diff), so the document is the same
 * whoever asks for it. It reads the finished run through the public accessors of tt/diff.h, like a tool would;
 * from the handle itself only whether it failed and whether it compared two sides of one file.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "tt/diff.h"
#include "tt/dtype.h"

#define SCHEMA_ID "tensortrace.diff/1"

typedef struct jctx {
    int oom;
} jctx;

static cJSON *chk(jctx *c, cJSON *x)
{
    if (!x)
        c->oom = 1;
    return x;
}

static void add(jctx *c, cJSON *o, const char *k, cJSON *v)
{
    if (!v) {
        c->oom = 1;
        return;
    }
    if (cJSON_IsArray(o))
        cJSON_AddItemToArray(o, v);
    else
        cJSON_AddItemToObject(o, k, v);
}

static void num(jctx *c, cJSON *o, const char *k, double v)
{
    add(c, o, k, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

static void u64(jctx *c, cJSON *o, const char *k, uint64_t v)
{
    add(c, o, k, cJSON_CreateNumber((double)v));
}

static void str(jctx *c, cJSON *o, const char *k, const char *s)
{
    add(c, o, k, s ? cJSON_CreateString(s) : cJSON_CreateNull());
}

static void i32(jctx *c, cJSON *o, const char *k, int32_t v)
{
    add(c, o, k, cJSON_CreateNumber((double)v));
}

static void opt_index(jctx *c, cJSON *o, const char *k, int64_t v)
{
    add(c, o, k, v >= 0 ? cJSON_CreateNumber((double)v) : cJSON_CreateNull());
}

static void hash_fields(jctx *c, cJSON *o, const char *k, uint64_t h, int valid)
{
    char hex[32], dec[32], kd[64];
    snprintf(hex, sizeof hex, "%016" PRIx64, h);
    snprintf(dec, sizeof dec, "%" PRIu64, h);
    snprintf(kd, sizeof kd, "%s_dec", k);
    str(c, o, k, valid ? hex : NULL);
    str(c, o, kd, valid ? dec : NULL);
}

static cJSON *side_json(jctx *c, const tt_diff_side *s)
{
    if (!s->present)
        return chk(c, cJSON_CreateNull());
    cJSON *o = chk(c, cJSON_CreateObject());
    if (!o)
        return NULL;
    u64(c, o, "record", s->record);
    u64(c, o, "row_begin", s->row_begin);
    u64(c, o, "row_count", s->row_count);
    str(c, o, "prompt_id", s->key.prompt_id);
    str(c, o, "phase", s->key.phase);
    str(c, o, "point", s->key.point);
    i32(c, o, "layer", s->key.layer);
    i32(c, o, "step", s->key.step);
    i32(c, o, "token_id", s->key.token_id);
    i32(c, o, "logical_tok_idx", s->key.logical_tok_idx);
    i32(c, o, "pos_id", s->key.pos_id);
    i32(c, o, "rows", s->key.rows);
    i32(c, o, "rank", s->key.rank);
    if (s->nshards) {
        /* gathered from tensor-parallel shards: how, and the shards' ranks in shard order */
        cJSON *g = chk(c, cJSON_CreateObject());
        if (g) {
            str(c, g, "kind", s->key.shard_kind == TT_SHARD_SPLIT ? "split" : "partial");
            i32(c, g, "dim", s->key.shard_dim);
            u64(c, g, "count", s->nshards);
            cJSON *rk = chk(c, cJSON_CreateArray());
            for (uint32_t k = 0; rk && s->shard_ranks && k < s->nshards; k++)
                i32(c, rk, NULL, s->shard_ranks[k]);
            add(c, g, "ranks", rk);
        }
        add(c, o, "gathered", g);
    }
    str(c, o, "dtype", tt_dtype_name(s->dtype));
    cJSON *sh = chk(c, cJSON_CreateArray());
    for (int i = 0; sh && i < s->ndim; i++)
        u64(c, sh, NULL, s->shape[i]);
    add(c, o, "shape", sh);
    add(c, o, "has_payload", cJSON_CreateBool((s->flags & TT_REC_HAS_PAYLOAD) != 0));
    hash_fields(c, o, "hash", s->hash, (s->flags & TT_REC_HAS_HASH) != 0);
    if (s->flags & TT_REC_HAS_STATS) {
        cJSON *st = chk(c, cJSON_CreateObject());
        if (st) {
            num(c, st, "min", s->stats.min);
            num(c, st, "max", s->stats.max);
            num(c, st, "mean", s->stats.mean);
            num(c, st, "absmax", s->stats.absmax);
            num(c, st, "l2", s->stats.l2);
            u64(c, st, "nan_count", s->stats.nan_count);
            u64(c, st, "inf_count", s->stats.inf_count);
        }
        add(c, o, "stats", st);
    } else {
        add(c, o, "stats", cJSON_CreateNull());
    }
    return o;
}

static cJSON *metrics_json(jctx *c, const tt_diff_pair *p)
{
    const tt_diff_metrics *m = &p->m;
    if (!p->left.present || !p->right.present)
        return chk(c, cJSON_CreateNull());
    cJSON *o = chk(c, cJSON_CreateObject());
    if (!o)
        return NULL;
    add(c, o, "compared", cJSON_CreateBool((p->flags & TT_DIFF_PAIR_COMPARED) != 0));
    u64(c, o, "elems", m->elems);
    u64(c, o, "diff_elems", m->diff_elems);
    num(c, o, "max_abs", m->max_abs);
    u64(c, o, "max_abs_index", m->max_abs_index);
    cJSON *co = chk(c, cJSON_CreateArray());
    for (int i = 0; co && i < p->left.ndim; i++)
        u64(c, co, NULL, m->max_abs_coord[i]);
    add(c, o, "max_abs_coord", co);
    num(c, o, "max_abs_left", m->max_abs_left);
    num(c, o, "max_abs_right", m->max_abs_right);
    if (p->flags & (TT_DIFF_PAIR_COMPARED | TT_DIFF_PAIR_HASH_SKIP)) {
        num(c, o, "rel_l2", (p->flags & TT_DIFF_PAIR_HASH_SKIP) ? 0.0 : m->rel_l2);
        num(c, o, "cosine", m->cosine);
    } else {
        add(c, o, "rel_l2", cJSON_CreateNull());
        add(c, o, "cosine", cJSON_CreateNull());
    }
    num(c, o, "max_ulp", m->max_ulp >= 0 ? m->max_ulp : NAN);
    u64(c, o, "outside_tol", m->outside_tol);
    u64(c, o, "nan_mismatch", m->nan_mismatch);
    u64(c, o, "inf_mismatch", m->inf_mismatch);
    num(c, o, "rtol", m->rtol);
    num(c, o, "atol", m->atol);
    num(c, o, "atol_abs", m->atol_abs);
    num(c, o, "atol_rms", m->atol_rms);
    num(c, o, "ref_rms", m->ref_rms);
    str(c, o, "tol_source", m->tol_source);
    return o;
}

static const char *const flag_names[] = {"hash_skip", "compared", "stats_only", "hash_only", "error",     "duplicate",
                                         "rows",      "jump",     "kv_fail",    "dtypes",    "nonfinite", "outliers"};

static cJSON *nonfinite_json(jctx *c, const tt_diff_nonfinite *nf, int ndim)
{
    cJSON *o = chk(c, cJSON_CreateObject());
    if (!o)
        return NULL;
    u64(c, o, "nan", nf->nan);
    u64(c, o, "inf", nf->inf);
    u64(c, o, "neg_inf", nf->neg_inf);
    u64(c, o, "neg_inf_agree", nf->neg_inf_agree);
    opt_index(c, o, "first", nf->first);
    cJSON *co = chk(c, cJSON_CreateArray());
    for (int i = 0; co && nf->first >= 0 && i < ndim; i++)
        u64(c, co, NULL, nf->first_coord[i]);
    add(c, o, "first_coord", co);
    const char *fv = nf->first < 0 ? NULL : isnan(nf->first_value) ? "nan" : nf->first_value > 0 ? "inf" : "-inf";
    str(c, o, "first_value", fv);
    return o;
}

/* The numbers that decided the pair's verdict (tt_diff_judgement). */
static cJSON *judgement_json(jctx *c, const tt_diff_pair *p)
{
    const tt_diff_judgement *j = &p->j;
    if (!p->left.present || !p->right.present)
        return chk(c, cJSON_CreateNull());
    cJSON *o = chk(c, cJSON_CreateObject());
    if (!o)
        return NULL;
    str(c, o, "decided_by", tt_diff_decision_name(j->decided_by));
    str(c, o, "precision", tt_dtype_name(j->precision));
    num(c, o, "unit", j->unit);
    str(c, o, "ulp_dtype", tt_dtype_name(j->ulp_dtype));
    num(c, o, "scale", j->scale);
    u64(c, o, "outliers", j->outliers);
    u64(c, o, "sampled", j->sampled);
    num(c, o, "error", j->error);
    num(c, o, "baseline", j->baseline);
    num(c, o, "floor", j->floor);
    num(c, o, "allowed", j->allowed);
    cJSON *fit = chk(c, cJSON_CreateObject());
    if (fit) {
        u64(c, fit, "n", j->fit_n);
        num(c, fit, "alpha", j->fit_alpha);
        num(c, fit, "alpha_t", j->fit_alpha_t);
        num(c, fit, "beta", j->fit_beta);
        num(c, fit, "beta_t", j->fit_beta_t);
    }
    add(c, o, "fit", fit);
    add(c, o, "nonfinite_left", nonfinite_json(c, &j->nonfinite[0], p->left.ndim));
    add(c, o, "nonfinite_right", nonfinite_json(c, &j->nonfinite[1], p->left.ndim));
    return o;
}

static cJSON *pair_json(jctx *c, const tt_diff *d, uint64_t i)
{
    const tt_diff_pair *p = tt_diff_pair_at(d, i);
    cJSON *o = chk(c, cJSON_CreateObject());
    if (!o)
        return NULL;
    u64(c, o, "index", i);
    u64(c, o, "group", p->group);
    str(c, o, "point", p->point);
    i32(c, o, "layer", p->layer);
    i32(c, o, "stage_rank", p->stage_rank);
    str(c, o, "verdict", tt_diff_verdict_name(p->verdict));
    str(c, o, "numeric_verdict", tt_diff_verdict_name(p->numeric_verdict));
    str(c, o, "root_cause", p->root_cause);
    cJSON *fl = chk(c, cJSON_CreateArray());
    for (size_t b = 0; fl && b < sizeof flag_names / sizeof flag_names[0]; b++)
        if (p->flags & (1u << b))
            str(c, fl, NULL, flag_names[b]);
    add(c, o, "flags", fl);
    str(c, o, "error", p->error);
    i32(c, o, "rank", p->rank);
    add(c, o, "left", side_json(c, &p->left));
    add(c, o, "right", side_json(c, &p->right));
    add(c, o, "metrics", metrics_json(c, p));
    add(c, o, "judgement", judgement_json(c, p));
    if (p->flags & TT_DIFF_PAIR_JUMP) {
        cJSON *j = chk(c, cJSON_CreateObject());
        if (j) {
            num(c, j, "ratio", p->jump_ratio);
            num(c, j, "baseline", p->jump_baseline);
        }
        add(c, o, "jump", j);
    } else {
        add(c, o, "jump", cJSON_CreateNull());
    }
    return o;
}

static cJSON *failure_json(jctx *c, const tt_diff *d)
{
    const tt_diff_failure *f = tt_diff_first_failure(d);
    if (!f)
        return chk(c, cJSON_CreateNull());
    cJSON *o = chk(c, cJSON_CreateObject());
    if (!o)
        return NULL;
    i32(c, o, "layer", f->layer);
    str(c, o, "point", f->point);
    str(c, o, "root_cause", f->root_cause);
    u64(c, o, "group", f->group);
    opt_index(c, o, "pair", f->pair);
    opt_index(c, o, "kv_check", f->kv_check);
    const tt_diff_pair *p = f->pair >= 0 ? tt_diff_pair_at(d, (uint64_t)f->pair) : NULL;
    i32(c, o, "rank", p ? p->rank : TT_UNSET);
    const tt_diff_group *g = tt_diff_group_at(d, f->group);
    cJSON *key = chk(c, cJSON_CreateObject());
    if (key) {
        const tt_diff_side *s = p ? (p->left.present ? &p->left : &p->right) : NULL;
        str(c, key, "prompt_id", g ? g->prompt_id : NULL);
        i32(c, key, "token_id", g ? g->token_id : -1);
        i32(c, key, "logical_tok_idx", g ? g->logical_tok_idx : -1);
        i32(c, key, "pos_id", g ? g->pos_id : -1);
        i32(c, key, "layer", f->layer);
        str(c, key, "point", f->point);
        str(c, key, "left_phase", p && p->left.present ? p->left.key.phase : s ? s->key.phase : NULL);
        str(c, key, "right_phase", p && p->right.present ? p->right.key.phase : NULL);
    }
    add(c, o, "key", key);
    if (p) {
        add(c, o, "verdict", cJSON_CreateString(tt_diff_verdict_name(p->verdict)));
        add(c, o, "metrics", metrics_json(c, p));
        add(c, o, "judgement", judgement_json(c, p));
        add(c, o, "left", side_json(c, &p->left));
        add(c, o, "right", side_json(c, &p->right));
    } else {
        add(c, o, "verdict", cJSON_CreateString("MISMATCH"));
        add(c, o, "metrics", cJSON_CreateNull());
        add(c, o, "judgement", cJSON_CreateNull());
        add(c, o, "left", cJSON_CreateNull());
        add(c, o, "right", cJSON_CreateNull());
    }
    if (f->detail) {
        cJSON *h = chk(c, cJSON_CreateObject()), *e = chk(c, cJSON_CreateArray()), *n = chk(c, cJSON_CreateArray());
        for (int i = 0; e && i < TT_DIFF_HIST_BINS; i++)
            num(c, e, NULL, f->hist_edges[i]);
        for (int i = 0; n && i < TT_DIFF_HIST_BINS + 2; i++)
            u64(c, n, NULL, f->hist_counts[i]);
        if (h) {
            add(c, h, "edges", e);
            add(c, h, "counts", n);
            str(c, h, "layout", "counts[0]: exact zeros; counts[1]: (0, edges[0]]; counts[i+1]: "
                                "(edges[i-1], edges[i]]; last: above the last edge");
        }
        add(c, o, "histogram", h);
        cJSON *w = chk(c, cJSON_CreateArray());
        for (uint32_t i = 0; w && i < f->nworst; i++) {
            const tt_diff_worst *x = &f->worst[i];
            cJSON *wi = chk(c, cJSON_CreateObject());
            if (!wi)
                break;
            u64(c, wi, "index", x->index);
            cJSON *co = chk(c, cJSON_CreateArray());
            for (int k = 0; co && p && k < p->left.ndim; k++)
                u64(c, co, NULL, x->coord[k]);
            add(c, wi, "coord", co);
            num(c, wi, "left", x->left);
            num(c, wi, "right", x->right);
            num(c, wi, "abs_err", x->abs_err);
            add(c, w, NULL, wi);
        }
        add(c, o, "worst", w);
    } else {
        add(c, o, "histogram", cJSON_CreateNull());
        add(c, o, "worst", cJSON_CreateArray());
    }
    return o;
}

static const char *const ev_kinds[] = {"jump", "stats", "qkv", "note", "warning", "fresh", "structured", "nonfinite",
                                       "dtypes"};

static cJSON *side_info(jctx *c, const tt_diff *d, const char *path, const char *const *conds, size_t nconds,
                        int s, uint64_t records)
{
    cJSON *o = chk(c, cJSON_CreateObject());
    if (!o)
        return NULL;
    str(c, o, "path", path);
    cJSON *fl = chk(c, cJSON_CreateArray());
    for (size_t i = 0; fl && i < nconds; i++)
        str(c, fl, NULL, conds[i]);
    add(c, o, "filter", fl);
    u64(c, o, "records", records);
    const tt_reader *r = d->src[d->same_file ? 0 : s];
    if (tt_reader_file_count(r) > 1) {
        /* a side of several files: each with its rank, in the order the side reads them */
        cJSON *fa = chk(c, cJSON_CreateArray());
        for (size_t i = 0; fa && i < tt_reader_file_count(r); i++) {
            cJSON *x = chk(c, cJSON_CreateObject());
            if (x) {
                str(c, x, "path", tt_reader_file_path(r, i));
                i32(c, x, "rank", tt_reader_file_rank(r, i));
            }
            add(c, fa, NULL, x);
        }
        add(c, o, "files", fa);
    }
    cJSON *m = chk(c, cJSON_CreateObject());
    for (uint64_t i = 0; m && i < tt_diff_meta_count(d, s); i++) {
        const char *k, *v;
        if (tt_diff_meta(d, s, i, &k, &v) == TT_OK && !cJSON_GetObjectItemCaseSensitive(m, k))
            str(c, m, k, v);
    }
    add(c, o, "meta", m);
    return o;
}

static cJSON *name_list(jctx *c, const char *text)
{
    cJSON *a = chk(c, cJSON_CreateArray());
    const char *s = text;
    while (a && s && *s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char buf[512];
        if (n >= sizeof buf)
            n = sizeof buf - 1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        str(c, a, NULL, buf);
        s = e ? e + 1 : NULL;
    }
    return a;
}

/* The sides' conditions as the document shows them: the caller's, or for one file compared without any, the
 * default sides tt_diff_run() chose. */
static void json_sides(const tt_diff *d, const tt_diff_json_options *o, const char *const *conds[2], size_t n[2])
{
    static const char *const dl[] = {TT_DIFF_DEFAULT_LEFT}, *const dr[] = {TT_DIFF_DEFAULT_RIGHT};
    conds[0] = o ? o->left_conds : NULL;
    n[0] = o && o->left_conds ? o->left_nconds : 0;
    conds[1] = o ? o->right_conds : NULL;
    n[1] = o && o->right_conds ? o->right_nconds : 0;
    if (d->same_file && !n[0] && !n[1]) {
        conds[0] = dl, n[0] = 1;
        conds[1] = dr, n[1] = 1;
    }
}

int tt_diff_json(const tt_diff *d, const tt_diff_json_options *opts, char **out)
{
    if (!out)
        return TT_E_INVAL;
    *out = NULL;
    if (!d || (opts && opts->size < sizeof(uint32_t)))
        return TT_E_INVAL;
    if (d->failed)
        return TT_E_STATE;
    jctx c = {0};
    tt_diff_counts n;
    tt_diff_info in;
    tt_diff_counts_get(d, &n);
    tt_diff_info_get(d, &in);
    const char *const *conds[2];
    size_t nconds[2];
    json_sides(d, opts, conds, nconds);
    cJSON *root = chk(&c, cJSON_CreateObject());
    if (!root)
        return TT_E_NOMEM;
    str(&c, root, "schema", SCHEMA_ID);
    str(&c, root, "tool", "tracediff");
    str(&c, root, "version", tt_version());
    str(&c, root, "verdict", tt_diff_overall_name(tt_diff_overall_verdict(d)));
    str(&c, root, "subcause", tt_diff_subcause(d));
    str(&c, root, "mode", tt_diff_mode_name(in.mode));
    str(&c, root, "align", in.align == TT_DIFF_ALIGN_POS ? "pos" : "none");
    add(&c, root, "key", name_list(&c, in.key));
    add(&c, root, "stages", name_list(&c, in.stages));
    add(&c, root, "left", side_info(&c, d, in.left_path, conds[0], nconds[0], 0, n.left_records));
    add(&c, root, "right", side_info(&c, d, in.right_path, conds[1], nconds[1], 1, n.right_records));
    cJSON *cn = chk(&c, cJSON_CreateObject());
    if (cn) {
        u64(&c, cn, "pairs", n.pairs);
        u64(&c, cn, "match", n.match);
        u64(&c, cn, "within_tol", n.within_tol);
        u64(&c, cn, "mismatch", n.mismatch);
        u64(&c, cn, "missing", n.missing);
        u64(&c, cn, "duplicates", n.duplicates);
        u64(&c, cn, "uncovered_rows", n.uncovered_rows);
        u64(&c, cn, "errors", n.errors);
        u64(&c, cn, "stats_only", n.stats_only);
        u64(&c, cn, "hash_skipped", n.hash_skipped);
        u64(&c, cn, "jumps", n.jumps);
        u64(&c, cn, "structured", n.structured);
        u64(&c, cn, "nonfinite", n.nonfinite);
        u64(&c, cn, "mixed_dtypes", n.mixed_dtypes);
        u64(&c, cn, "bytes_compared", n.bytes_compared);
    }
    add(&c, root, "counts", cn);
    add(&c, root, "first_failure", failure_json(&c, d));
    cJSON *nfo = chk(&c, cJSON_CreateObject());
    for (int s = 0; nfo && s < 2; s++) {
        const tt_diff_pair *np = tt_diff_first_nonfinite(d, s);
        cJSON *x = np ? chk(&c, cJSON_CreateObject()) : chk(&c, cJSON_CreateNull());
        if (np && x) {
            uint64_t idx = (uint64_t)(np - tt_diff_pair_at(d, 0));
            u64(&c, x, "pair", idx);
            str(&c, x, "point", np->point);
            i32(&c, x, "layer", np->layer);
            add(&c, x, "values", nonfinite_json(&c, &np->j.nonfinite[s], np->left.ndim));
        }
        add(&c, nfo, s ? "right" : "left", x);
    }
    add(&c, root, "first_nonfinite", nfo);
    cJSON *jp = chk(&c, cJSON_CreateObject());
    if (jp) {
        num(&c, jp, "jump_ratio", in.jump_ratio);
        num(&c, jp, "jump_floor", in.jump_floor);
        num(&c, jp, "stat_threshold", in.stat_threshold);
        add(&c, jp, "allow_nonfinite", cJSON_CreateBool(in.allow_nonfinite));
    }
    add(&c, root, "judgement", jp);
    uint64_t nch;
    const uint64_t *ch = tt_diff_chain(d, &nch);
    cJSON *ca = chk(&c, cJSON_CreateArray());
    for (uint64_t i = 0; ca && i < nch; i++)
        u64(&c, ca, NULL, ch[i]);
    add(&c, root, "chain", ca);
    cJSON *ga = chk(&c, cJSON_CreateArray());
    for (uint32_t i = 0; ga && i < tt_diff_group_count(d); i++) {
        const tt_diff_group *g = tt_diff_group_at(d, i);
        cJSON *o = chk(&c, cJSON_CreateObject());
        if (!o)
            break;
        str(&c, o, "prompt_id", g->prompt_id);
        i32(&c, o, "token_id", g->token_id);
        i32(&c, o, "logical_tok_idx", g->logical_tok_idx);
        i32(&c, o, "pos_id", g->pos_id);
        u64(&c, o, "pairs", g->pairs);
        u64(&c, o, "match", g->match);
        u64(&c, o, "within_tol", g->within_tol);
        u64(&c, o, "mismatch", g->mismatch);
        u64(&c, o, "missing", g->missing);
        opt_index(&c, o, "first_failure", g->first_failure);
        str(&c, o, "root_cause", g->root_cause);
        add(&c, ga, NULL, o);
    }
    add(&c, root, "groups", ga);
    cJSON *pa = chk(&c, cJSON_CreateArray());
    for (uint64_t i = 0; pa && i < tt_diff_pair_count(d) && !c.oom; i++)
        add(&c, pa, NULL, pair_json(&c, d, i));
    add(&c, root, "pairs", pa);
    cJSON *ea = chk(&c, cJSON_CreateArray());
    for (uint64_t i = 0; ea && i < tt_diff_evidence_count(d); i++) {
        const tt_diff_evidence *e = tt_diff_evidence_at(d, i);
        cJSON *o = chk(&c, cJSON_CreateObject());
        if (!o)
            break;
        str(&c, o, "kind", ev_kinds[e->kind]);
        opt_index(&c, o, "pair", e->pair);
        num(&c, o, "a", e->a);
        num(&c, o, "b", e->b);
        str(&c, o, "text", e->text);
        add(&c, ea, NULL, o);
    }
    add(&c, root, "evidence", ea);
    cJSON *ka = chk(&c, cJSON_CreateArray());
    for (uint64_t i = 0; ka && i < tt_diff_kv_check_count(d); i++) {
        const tt_diff_kv_check *k = tt_diff_kv_check_at(d, i);
        cJSON *o = chk(&c, cJSON_CreateObject());
        if (!o)
            break;
        str(&c, o, "kind", tt_diff_kv_kind_name(k->kind));
        str(&c, o, "result", k->passed == 1 ? "pass" : k->passed == 0 ? "fail" : "n/a");
        str(&c, o, "side", k->side == 0 ? "left" : k->side == 1 ? "right" : "both");
        opt_index(&c, o, "pair", k->pair);
        u64(&c, o, "group", k->group);
        str(&c, o, "prompt_id", k->prompt_id);
        str(&c, o, "point", k->point);
        i32(&c, o, "layer", k->layer);
        u64(&c, o, "rows_checked", k->rows_checked);
        u64(&c, o, "bad_rows", k->bad_rows);
        opt_index(&c, o, "first_bad_row", k->first_bad_row);
        opt_index(&c, o, "first_bad_col", k->first_bad_col);
        num(&c, o, "max_abs", k->max_abs);
        str(&c, o, "text", k->text);
        add(&c, ka, NULL, o);
    }
    add(&c, root, "kv_checks", ka);
    cJSON *t = chk(&c, cJSON_CreateObject());
    if (t) {
        num(&c, t, "seconds", in.seconds);
        u64(&c, t, "threads", in.threads);
    }
    add(&c, root, "timing", t);
    tt_diff_plan pl;
    if (tt_diff_plan_get(d, &pl) == TT_OK && pl.pair >= 0) {
        cJSON *po = chk(&c, cJSON_CreateObject());
        if (po) {
            u64(&c, po, "pair", (uint64_t)pl.pair);
            cJSON *env = chk(&c, cJSON_CreateObject());
            if (env) {
                str(&c, env, "TT_TRACE_MODE", "full");
                str(&c, env, "TT_TRACE_PROMPTS", pl.prompts);
                str(&c, env, "TT_TRACE_PHASES", pl.phases);
                str(&c, env, "TT_TRACE_LAYERS", pl.layers);
                str(&c, env, "TT_TRACE_POINTS", pl.points);
            }
            add(&c, po, "env", env);
            u64(&c, po, "records_selected", pl.records_selected);
            u64(&c, po, "records_total", pl.records_total);
            u64(&c, po, "bytes_selected", pl.bytes_selected);
            u64(&c, po, "bytes_total", pl.bytes_total);
        }
        add(&c, root, "plan", po);
    } else {
        add(&c, root, "plan", cJSON_CreateNull());
    }
    if (c.oom) {
        cJSON_Delete(root);
        return TT_E_NOMEM;
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text)
        return TT_E_NOMEM;
    /* the document ends with a newline, as a text file does; cJSON's buffer is ours to free with free() */
    size_t len = strlen(text);
    char *doc = malloc(len + 2);
    if (!doc) {
        cJSON_free(text);
        return TT_E_NOMEM;
    }
    memcpy(doc, text, len);
    doc[len] = '\n';
    doc[len + 1] = '\0';
    cJSON_free(text);
    *out = doc;
    return TT_OK;
}
