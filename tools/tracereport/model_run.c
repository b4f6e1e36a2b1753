/*
 * model_run.c — fills the model (model.h) from a finished tt_diff handle, for `tracereport --run`. It reads the
 * handle only through tt/diff.h and follows the rules tracediff's JSON writer follows (schemas/diff.schema.json):
 * rel_l2 is 0 for pairs decided equal by their hashes and unknown (NAN) for pairs not compared from their tensors,
 * max_ulp is unknown when the dtypes differ, coordinates have the left record's rank. A report made with --run
 * and one made from `tracediff --json` of the same comparison are therefore the same (the tests check it).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "tt/dtype.h"

static int copy_str(rp_arena *a, const char **dst, const char *src, int *oom)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = rp_arena_strdup(a, src);
    if (!*dst)
        *oom = 1;
    return 0;
}

static void side_from(rp_arena *a, rp_side *s, const tt_diff_side *t, int *oom)
{
    memset(s, 0, sizeof *s);
    if (!t->present)
        return;
    s->present = 1;
    s->record = t->record;
    s->row_begin = t->row_begin;
    s->row_count = t->row_count;
    copy_str(a, &s->prompt_id, t->key.prompt_id ? t->key.prompt_id : "", oom);
    copy_str(a, &s->phase, t->key.phase ? t->key.phase : "", oom);
    copy_str(a, &s->point, t->key.point ? t->key.point : "", oom);
    s->layer = t->key.layer;
    s->step = t->key.step;
    s->token_id = t->key.token_id;
    s->logical_tok_idx = t->key.logical_tok_idx;
    s->pos_id = t->key.pos_id;
    s->rows = t->key.rows;
    s->rank = t->key.rank;
    copy_str(a, &s->dtype, tt_dtype_name(t->dtype), oom);
    s->ndim = t->ndim < 0 ? 0 : t->ndim > RP_MAX_DIMS ? RP_MAX_DIMS : t->ndim;
    for (int i = 0; i < s->ndim; i++)
        s->shape[i] = t->shape[i];
    s->has_payload = (t->flags & TT_REC_HAS_PAYLOAD) != 0;
    if (t->flags & TT_REC_HAS_HASH) {
        s->has_hash = 1;
        snprintf(s->hash, sizeof s->hash, "%016llx", (unsigned long long)t->hash);
        snprintf(s->hash_dec, sizeof s->hash_dec, "%llu", (unsigned long long)t->hash);
    }
    if (t->flags & TT_REC_HAS_STATS) {
        s->stats.present = 1;
        s->stats.min = t->stats.min;
        s->stats.max = t->stats.max;
        s->stats.mean = t->stats.mean;
        s->stats.absmax = t->stats.absmax;
        s->stats.l2 = t->stats.l2;
        s->stats.nan_count = t->stats.nan_count;
        s->stats.inf_count = t->stats.inf_count;
    }
}

/* non-finite numbers are null in the JSON, NAN in the model */
static double fin(double v)
{
    return isfinite(v) ? v : NAN;
}

static void metrics_from(rp_arena *a, rp_metrics *m, const tt_diff_pair *p, int *oom)
{
    memset(m, 0, sizeof *m);
    m->rel_l2 = m->cosine = m->max_ulp = NAN;
    if (!p->left.present || !p->right.present)
        return;
    const tt_diff_metrics *t = &p->m;
    m->present = 1;
    m->compared = (p->flags & TT_DIFF_PAIR_COMPARED) != 0;
    m->elems = t->elems;
    m->diff_elems = t->diff_elems;
    m->max_abs = fin(t->max_abs);
    m->max_abs_index = t->max_abs_index;
    m->ncoord = p->left.ndim < 0 ? 0 : p->left.ndim > RP_MAX_DIMS ? RP_MAX_DIMS : p->left.ndim;
    for (int i = 0; i < m->ncoord; i++)
        m->max_abs_coord[i] = t->max_abs_coord[i];
    m->max_abs_left = fin(t->max_abs_left);
    m->max_abs_right = fin(t->max_abs_right);
    if (p->flags & (TT_DIFF_PAIR_COMPARED | TT_DIFF_PAIR_HASH_SKIP)) {
        m->rel_l2 = (p->flags & TT_DIFF_PAIR_HASH_SKIP) ? 0.0 : fin(t->rel_l2);
        m->cosine = fin(t->cosine);
    }
    m->max_ulp = t->max_ulp >= 0 ? fin(t->max_ulp) : NAN;
    m->outside_tol = t->outside_tol;
    m->nan_mismatch = t->nan_mismatch;
    m->inf_mismatch = t->inf_mismatch;
    m->rtol = fin(t->rtol);
    m->atol = fin(t->atol);
    m->atol_abs = fin(t->atol_abs);
    m->atol_rms = fin(t->atol_rms);
    m->ref_rms = fin(t->ref_rms);
    copy_str(a, &m->tol_source, t->tol_source, oom);
}

static rp_verdict verdict_of(tt_diff_verdict v)
{
    switch (v) {
    case TT_DIFF_MATCH: return RP_MATCH;
    case TT_DIFF_WITHIN_TOL: return RP_WITHIN_TOL;
    case TT_DIFF_MISSING: return RP_MISSING;
    default: return RP_MISMATCH;
    }
}

/* The first failure's judgement, as tracediff's JSON writer gives it (non-finite numbers as unknown). */
static void judgement_from(rp_arena *a, rp_judgement *o, const tt_diff_pair *p, int *oom)
{
    const tt_diff_judgement *j = &p->j;
    o->has = 1;
    copy_str(a, &o->decided_by, tt_diff_decision_name(j->decided_by), oom);
    copy_str(a, &o->precision, tt_dtype_name(j->precision), oom);
    copy_str(a, &o->ulp_dtype, tt_dtype_name(j->ulp_dtype), oom);
    o->unit = fin(j->unit);
    o->scale = fin(j->scale);
    o->outliers = j->outliers;
    o->sampled = j->sampled;
    o->error = fin(j->error);
    o->baseline = fin(j->baseline);
    o->floor = fin(j->floor);
    o->allowed = fin(j->allowed);
    o->fit_n = j->fit_n;
    o->alpha = fin(j->fit_alpha);
    o->alpha_t = fin(j->fit_alpha_t);
    o->beta = fin(j->fit_beta);
    o->beta_t = fin(j->fit_beta_t);
    for (int s = 0; s < 2; s++) {
        o->nan[s] = j->nonfinite[s].nan;
        o->inf[s] = j->nonfinite[s].inf;
        o->first[s] = j->nonfinite[s].first;
    }
}

static void failure_from(rp_arena *a, rp_result *r, const tt_diff *d, int *oom)
{
    rp_failure *f = &r->ff;
    f->pair = f->kv_check = -1;
    f->rank = -1;
    const tt_diff_failure *t = tt_diff_first_failure(d);
    if (!t)
        return;
    f->present = 1;
    f->layer = t->layer;
    copy_str(a, &f->point, t->point ? t->point : "", oom);
    copy_str(a, &f->root_cause, t->root_cause ? t->root_cause : "", oom);
    f->group = t->group;
    f->pair = t->pair;
    f->kv_check = t->kv_check;
    const tt_diff_pair *p = t->pair >= 0 ? tt_diff_pair_at(d, (uint64_t)t->pair) : NULL;
    f->rank = p ? p->rank : -1;
    const tt_diff_group *g = tt_diff_group_at(d, t->group);
    copy_str(a, &f->prompt_id, g ? g->prompt_id : NULL, oom);
    f->token_id = g ? g->token_id : -1;
    f->logical_tok_idx = g ? g->logical_tok_idx : -1;
    f->pos_id = g ? g->pos_id : -1;
    if (p) {
        copy_str(a, &f->left_phase, p->left.present ? p->left.key.phase : p->right.key.phase, oom);
        copy_str(a, &f->right_phase, p->right.present ? p->right.key.phase : NULL, oom);
        f->verdict = verdict_of(p->verdict);
        metrics_from(a, &f->m, p, oom);
        if (p->left.present && p->right.present)
            judgement_from(a, &f->j, p, oom);
        side_from(a, &f->left, &p->left, oom);
        side_from(a, &f->right, &p->right, oom);
    } else {
        f->verdict = RP_MISMATCH;
        f->m.rel_l2 = f->m.cosine = f->m.max_ulp = NAN;
    }
    if (!t->detail)
        return;
    f->nedges = TT_DIFF_HIST_BINS;
    f->edges = rp_arena_alloc(a, TT_DIFF_HIST_BINS, sizeof *f->edges);
    f->counts = rp_arena_alloc(a, TT_DIFF_HIST_BINS + 2, sizeof *f->counts);
    f->worst = rp_arena_alloc(a, t->nworst ? t->nworst : 1, sizeof *f->worst);
    if (!f->edges || !f->counts || !f->worst) {
        *oom = 1;
        return;
    }
    f->has_hist = 1;
    for (int i = 0; i < TT_DIFF_HIST_BINS; i++)
        f->edges[i] = t->hist_edges[i];
    for (int i = 0; i < TT_DIFF_HIST_BINS + 2; i++)
        f->counts[i] = t->hist_counts[i];
    int nd = p ? p->left.ndim : 0;
    nd = nd < 0 ? 0 : nd > RP_MAX_DIMS ? RP_MAX_DIMS : nd;
    for (uint32_t i = 0; i < t->nworst; i++) {
        rp_worst *w = &f->worst[i];
        w->index = t->worst[i].index;
        w->ncoord = nd;
        for (int k = 0; k < nd; k++)
            w->coord[k] = t->worst[i].coord[k];
        w->left = fin(t->worst[i].left);
        w->right = fin(t->worst[i].right);
        w->abs_err = fin(t->worst[i].abs_err);
    }
    f->nworst = t->nworst;
}

static const char **split_list(rp_arena *a, const char *text, size_t *n, int *oom)
{
    *n = 0;
    size_t cnt = 1;
    for (const char *s = text ? text : ""; *s; s++)
        cnt += *s == ',';
    const char **out = rp_arena_alloc(a, cnt, sizeof *out);
    if (!out) {
        *oom = 1;
        return NULL;
    }
    const char *s = text;
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char *item = rp_arena_alloc(a, len + 1, 1);
        if (!item) {
            *oom = 1;
            return out;
        }
        memcpy(item, s, len);
        out[(*n)++] = item;
        s = e ? e + 1 : NULL;
    }
    return out;
}

static void input_from(rp_arena *a, rp_input *in, const tt_diff *d, int side, const char *path, const char *const *conds,
                       size_t nconds, uint64_t records, int *oom)
{
    copy_str(a, &in->path, path, oom);
    in->filter = rp_arena_alloc(a, nconds ? nconds : 1, sizeof *in->filter);
    if (!in->filter) {
        *oom = 1;
        return;
    }
    for (size_t i = 0; i < nconds; i++)
        copy_str(a, &in->filter[in->nfilter++], conds[i], oom);
    in->records = records;
    uint64_t n = tt_diff_meta_count(d, side);
    in->meta = rp_arena_alloc(a, n ? n : 1, sizeof *in->meta);
    if (!in->meta) {
        *oom = 1;
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        const char *k, *v;
        if (tt_diff_meta(d, side, i, &k, &v) != TT_OK || !k)
            continue;
        if (rp_meta_get(in, k)) /* the first value of a key wins, as in the JSON */
            continue;
        copy_str(a, &in->meta[in->nmeta].key, k, oom);
        copy_str(a, &in->meta[in->nmeta].value, v ? v : "", oom);
        if (*oom)
            return;
        in->nmeta++;
    }
}

rp_result *rp_load_diff(const tt_diff *d, const rp_run_sides *sides)
{
    rp_arena *a = rp_arena_new();
    rp_result *r = a ? rp_arena_alloc(a, 1, sizeof *r) : NULL;
    if (!r) {
        rp_arena_free(a);
        return NULL;
    }
    int oom = 0;
    r->arena = a;
    r->from_run = 1;
    copy_str(a, &r->source, "tracereport --run", &oom);
    copy_str(a, &r->version, tt_version(), &oom);
    tt_diff_overall ov = tt_diff_overall_verdict(d);
    r->verdict = ov == TT_DIFF_IDENTICAL ? RP_IDENTICAL : ov == TT_DIFF_STRUCTURAL_DRIFT ? RP_STRUCTURAL
                 : ov == TT_DIFF_OVERALL_MISMATCH ? RP_OVERALL_MISMATCH : RP_NA;
    copy_str(a, &r->subcause, tt_diff_subcause(d), &oom);
    tt_diff_info in;
    tt_diff_counts c;
    tt_diff_info_get(d, &in);
    tt_diff_counts_get(d, &c);
    r->mode = in.mode == TT_DIFF_AS_DESIGNED ? RP_AS_DESIGNED : in.mode == TT_DIFF_KV_ALIGNED ? RP_KV_ALIGNED
                                                                                               : RP_NUMERIC;
    r->align_pos = in.align == TT_DIFF_ALIGN_POS;
    r->key = split_list(a, in.key, &r->nkey, &oom);
    r->stages = split_list(a, in.stages, &r->nstages, &oom);
    input_from(a, &r->left, d, 0, sides->left_path, sides->left_conds, sides->nleft, c.left_records, &oom);
    input_from(a, &r->right, d, 1, sides->right_path ? sides->right_path : sides->left_path, sides->right_conds,
               sides->nright, c.right_records, &oom);
    r->rank = rp_result_rank(r);
    r->counts = (rp_counts){c.pairs, c.match, c.within_tol, c.mismatch, c.missing, c.duplicates, c.uncovered_rows,
                            c.errors, c.stats_only, c.hash_skipped, c.jumps, c.bytes_compared};

    r->ngroups = tt_diff_group_count(d);
    r->groups = rp_arena_alloc(a, r->ngroups ? r->ngroups : 1, sizeof *r->groups);
    r->npairs = tt_diff_pair_count(d);
    r->pairs = rp_arena_alloc(a, r->npairs ? r->npairs : 1, sizeof *r->pairs);
    r->nevidence = tt_diff_evidence_count(d);
    r->evidence = rp_arena_alloc(a, r->nevidence ? r->nevidence : 1, sizeof *r->evidence);
    r->nkv = tt_diff_kv_check_count(d);
    r->kv = rp_arena_alloc(a, r->nkv ? r->nkv : 1, sizeof *r->kv);
    uint64_t nch = 0;
    const uint64_t *ch = tt_diff_chain(d, &nch);
    r->chain = rp_arena_alloc(a, nch ? nch : 1, sizeof *r->chain);
    if (!r->groups || !r->pairs || !r->evidence || !r->kv || !r->chain || oom) {
        rp_arena_free(a);
        return NULL;
    }
    for (size_t i = 0; i < r->ngroups; i++) {
        const tt_diff_group *g = tt_diff_group_at(d, (uint32_t)i);
        rp_group *o = &r->groups[i];
        copy_str(a, &o->prompt_id, g->prompt_id, &oom);
        o->token_id = g->token_id;
        o->logical_tok_idx = g->logical_tok_idx;
        o->pos_id = g->pos_id;
        o->pairs = g->pairs;
        o->match = g->match;
        o->within_tol = g->within_tol;
        o->mismatch = g->mismatch;
        o->missing = g->missing;
        o->first_failure = g->first_failure;
        copy_str(a, &o->root_cause, g->root_cause, &oom);
    }
    for (size_t i = 0; i < r->npairs && !oom; i++) {
        const tt_diff_pair *p = tt_diff_pair_at(d, i);
        rp_pair *o = &r->pairs[i];
        o->index = i;
        o->group = p->group;
        copy_str(a, &o->point, p->point ? p->point : "", &oom);
        o->layer = p->layer;
        o->stage_rank = p->stage_rank;
        o->verdict = verdict_of(p->verdict);
        o->numeric_verdict = verdict_of(p->numeric_verdict);
        copy_str(a, &o->root_cause, p->root_cause, &oom);
        o->flags = p->flags & 0xFFFu; /* TT_DIFF_PAIR_* and RP_F_* share their bits */
        copy_str(a, &o->error, p->error, &oom);
        side_from(a, &o->left, &p->left, &oom);
        side_from(a, &o->right, &p->right, &oom);
        metrics_from(a, &o->m, p, &oom);
        if (p->flags & TT_DIFF_PAIR_JUMP) {
            o->has_jump = 1;
            o->jump_ratio = fin(p->jump_ratio);
            o->jump_baseline = fin(p->jump_baseline);
        }
    }
    for (size_t i = 0; i < r->nevidence; i++) {
        const tt_diff_evidence *e = tt_diff_evidence_at(d, i);
        rp_evidence *o = &r->evidence[i];
        o->kind = (rp_ev_kind)e->kind;
        o->pair = e->pair;
        o->a = fin(e->a);
        o->b = fin(e->b);
        copy_str(a, &o->text, e->text ? e->text : "", &oom);
    }
    for (size_t i = 0; i < r->nkv; i++) {
        const tt_diff_kv_check *k = tt_diff_kv_check_at(d, i);
        rp_kvcheck *o = &r->kv[i];
        o->kind = (rp_kv_kind)k->kind;
        o->result = k->passed == 1 ? 1 : k->passed == 0 ? 0 : -1;
        o->side = k->side;
        o->pair = k->pair;
        o->group = k->group;
        copy_str(a, &o->prompt_id, k->prompt_id, &oom);
        copy_str(a, &o->point, k->point, &oom);
        o->layer = k->layer;
        o->rows_checked = k->rows_checked;
        o->bad_rows = k->bad_rows;
        o->first_bad_row = k->first_bad_row;
        o->first_bad_col = k->first_bad_col;
        o->max_abs = fin(k->max_abs);
        copy_str(a, &o->text, k->text ? k->text : "", &oom);
    }
    for (uint64_t i = 0; i < nch; i++)
        r->chain[i] = ch[i];
    r->nchain = nch;
    failure_from(a, r, d, &oom);
    r->seconds = in.seconds;
    r->threads = in.threads;
    if (oom) {
        rp_arena_free(a);
        return NULL;
    }
    return r;
}
