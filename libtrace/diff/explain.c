/*
 * explain.c — step 4 of the diff pipeline (see core.h): from judged pairs to an answer a reader can act on: each
 * failing pair's root cause name, the counts, the first failure in pipeline order with its propagation chain and
 * detail pass, the first NaN/Inf of each side, the evidence list (what decided each failure, stats-only
 * comparisons, Q/K/V and softmax summaries, warnings on the inputs), the overall verdict (N/A when kv_aligned lacks
 * evidence) and calibration from a known-good run. Calls core, pair, measure and judge.
 */
#include "explain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

/* The root-cause table (003_*.txt and its extension to the extra points). ROPE_DRIFT is decided by the caller,
 * which knows whether the pre-RoPE tensor matched. */
const char *tt_diff_root_cause_name(const char *point, char *buf, size_t len)
{
    static const char *const table[][2] = {
        {"embed_out", "EMBED_DRIFT"},
        {"residual_pre_attn", "RESIDUAL_PRE_ATTN_DRIFT"},
        {"attn_norm_out", "ATTN_NORM_DRIFT"},
        {"q_pre_rope", "Q_PRE_ROPE_DRIFT"},
        {"k_pre_rope", "K_PRE_ROPE_DRIFT"},
        {"v", "V_DRIFT"},
        {"q_post_rope", "Q_POST_ROPE_DRIFT"},
        {"k_post_rope", "K_POST_ROPE_DRIFT"},
        {"k_cache", "KV_CACHE_DRIFT"},
        {"v_cache", "KV_CACHE_DRIFT"},
        {"attn_scores", "ATTN_SCORES_DRIFT"},
        {"attn_probs", "SOFTMAX_DRIFT"},
        {"attn_out", "ATTN_OUT_DRIFT"},
        {"residual_post_attn", "RESIDUAL_POST_ATTN_DRIFT"},
        {"ffn_norm_in", "FFN_NORM_DRIFT"},
        {"mlp_out", "MLP_OUT_DRIFT"},
        {"residual_post_mlp", "RESIDUAL_POST_MLP_DRIFT"},
        {"logits", "LOGITS_DRIFT"},
        {"logits_top1", "LOGITS_DRIFT"},
    };
    if (!buf || !len)
        return "";
    for (size_t i = 0; point && i < sizeof table / sizeof table[0]; i++)
        if (strcmp(point, table[i][0]) == 0) {
            snprintf(buf, len, "%s", table[i][1]);
            return buf;
        }
    size_t n = 0;
    for (const char *p = point ? point : "UNKNOWN"; *p && n + 7 < len; p++) {
        char c = *p;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            c = '_';
        buf[n++] = c;
    }
    snprintf(buf + n, len - n, "_DRIFT");
    return buf;
}

static int is_point(const tt_diff *d, const tt_diff_pair *p, const char *name)
{
    (void)d;
    return strcmp(p->point, name) == 0;
}

static int ok_verdict(tt_diff_verdict v)
{
    return v == TT_DIFF_MATCH || v == TT_DIFF_WITHIN_TOL;
}

/* The pair of the same group and layer at `point`, or NULL. */
static const tt_diff_pair *sibling(const tt_diff *d, const tt_diff_pair *p, const char *point)
{
    for (size_t i = 0; i < d->npairs; i++) {
        const tt_diff_pair *q = &d->pairs[i];
        if (q->group == p->group && q->layer == p->layer && strcmp(q->point, point) == 0)
            return q;
    }
    return NULL;
}

static int name_root_cause(tt_diff *d, tt_diff_pair *p)
{
    char buf[300];
    const char *rc;
    if (p->verdict == TT_DIFF_MISSING) {
        rc = "TRACE_OFFSET";
    } else if (p->j.decided_by == TT_DIFF_BY_NONFINITE &&
               (p->j.nonfinite[0].nan + p->j.nonfinite[1].nan + p->j.nonfinite[0].inf - p->j.nonfinite[0].neg_inf +
                p->j.nonfinite[1].inf - p->j.nonfinite[1].neg_inf) > 0) {
        /* NaN or +Inf: the engine is broken; -inf only (where one side masks and the other does not) is its
         * stage's drift */
        rc = "NONFINITE";
    } else if (p->flags & TT_DIFF_PAIR_KV_FAIL) {
        rc = is_point(d, p, "attn_probs") ? "CAUSAL_MASK_DRIFT" : "KV_CACHE_DRIFT";
    } else if (is_point(d, p, "q_post_rope") || is_point(d, p, "k_post_rope")) {
        const tt_diff_pair *pre = sibling(d, p, p->point[0] == 'q' ? "q_pre_rope" : "k_pre_rope");
        rc = pre && ok_verdict(pre->verdict) ? "ROPE_DRIFT" : tt_diff_root_cause_name(p->point, buf, sizeof buf);
    } else {
        rc = tt_diff_root_cause_name(p->point, buf, sizeof buf);
    }
    p->root_cause = diff_intern(d, rc);
    return p->root_cause ? TT_OK : diff_err(d, TT_E_NOMEM, "out of memory");
}

/* Pipeline comparison of two (where, layer, rank) positions. */
static int pipe_cmp(int wa, int32_t la, int32_t ra, int wb, int32_t lb, int32_t rb)
{
    if (wa != wb)
        return wa < wb ? -1 : 1;
    if (la != lb)
        return la < lb ? -1 : 1;
    if (ra != rb)
        return ra < rb ? -1 : 1;
    return 0;
}

static void count_all(tt_diff *d)
{
    tt_diff_counts *c = &d->counts;
    c->pairs = d->npairs;
    c->match = c->within_tol = c->mismatch = c->missing = c->errors = c->stats_only = c->hash_skipped = 0;
    c->jumps = c->nonfinite = c->structured = c->mixed_dtypes = 0;
    for (uint32_t g = 0; g < d->ngroups; g++) {
        tt_diff_group *gr = &d->groups[g];
        gr->pairs = gr->match = gr->within_tol = gr->mismatch = gr->missing = 0;
    }
    for (size_t i = 0; i < d->npairs; i++) {
        const tt_diff_pair *p = &d->pairs[i];
        tt_diff_group *g = &d->groups[p->group];
        g->pairs++;
        switch (p->verdict) {
        case TT_DIFF_MATCH: c->match++, g->match++; break;
        case TT_DIFF_WITHIN_TOL: c->within_tol++, g->within_tol++; break;
        case TT_DIFF_MISMATCH: c->mismatch++, g->mismatch++; break;
        case TT_DIFF_MISSING: c->missing++, g->missing++; break;
        }
        c->errors += (p->flags & TT_DIFF_PAIR_ERROR) != 0;
        c->stats_only += (p->flags & (TT_DIFF_PAIR_STATS_ONLY | TT_DIFF_PAIR_HASH_ONLY)) != 0;
        c->hash_skipped += (p->flags & TT_DIFF_PAIR_HASH_SKIP) != 0;
        c->nonfinite += (p->flags & TT_DIFF_PAIR_NONFINITE) != 0;
        c->mixed_dtypes += (p->flags & TT_DIFF_PAIR_DTYPES) != 0;
        if (p->numeric_verdict == TT_DIFF_MISMATCH) {
            c->jumps += p->j.decided_by == TT_DIFF_BY_FRESH || p->j.decided_by == TT_DIFF_BY_AMPLIFIED;
            c->structured += p->j.decided_by == TT_DIFF_BY_SCALE || p->j.decided_by == TT_DIFF_BY_OFFSET;
        }
    }
}

/* ---- first failure ------------------------------------------------------------------------------------------ */

typedef struct cand {
    int where;
    int32_t layer, rank;
    uint32_t group;
    int64_t pair, kv;
} cand;

static int cand_before(const cand *a, const cand *b)
{
    int c = pipe_cmp(a->where, a->layer, a->rank, b->where, b->layer, b->rank);
    if (c)
        return c < 0;
    return a->group < b->group;
}

static int32_t rank_of(const tt_diff *d, const char *point)
{
    for (size_t i = 0; i < d->nstages; i++)
        if (d->stages[i] == point)
            return (int32_t)i;
    return (int32_t)d->nstages;
}

static int first_failures(tt_diff *d)
{
    int missing_first = d->o.mode == TT_DIFF_AS_DESIGNED && d->counts.missing > 0;
    cand best = {0, 0, 0, 0, -1, -1};
    int have = 0;
    for (size_t i = 0; i < d->npairs; i++) {
        tt_diff_pair *p = &d->pairs[i];
        if (p->verdict != TT_DIFF_MISMATCH && p->verdict != TT_DIFF_MISSING)
            continue;
        if (missing_first && p->verdict != TT_DIFF_MISSING)
            continue;
        cand c = {diff_where_of(d, p), p->layer, p->stage_rank, p->group, (int64_t)i, -1};
        tt_diff_group *g = &d->groups[p->group];
        if (g->first_failure < 0) {
            g->first_failure = (int64_t)i; /* pairs are in pipeline order within a group */
            g->root_cause = p->root_cause;
        }
        if (!have || cand_before(&c, &best)) {
            best = c;
            have = 1;
        }
    }
    /* KV checks that failed without a pair to carry them (rows of a full prefill no decode step covers) */
    for (size_t i = 0; i < d->nkv && !missing_first; i++) {
        const tt_diff_kv_check *k = &d->kv[i];
        if (k->passed != 0 || k->pair >= 0)
            continue;
        cand c = {k->layer >= 0 ? 1 : 2, k->layer, rank_of(d, k->point), k->group, -1, (int64_t)i};
        tt_diff_group *g = k->group < d->ngroups ? &d->groups[k->group] : NULL;
        if (g && g->first_failure < 0 && !g->root_cause)
            g->root_cause = k->kind == TT_DIFF_KV_CAUSAL ? "CAUSAL_MASK_DRIFT" : "KV_CACHE_DRIFT";
        if (!have || cand_before(&c, &best)) {
            best = c;
            have = 1;
        }
    }
    if (!have)
        return TT_OK;
    tt_diff_failure *f = &d->failure;
    memset(f, 0, sizeof *f);
    d->has_failure = 1;
    f->pair = best.pair;
    f->kv_check = best.kv;
    f->group = best.group;
    f->layer = best.layer;
    if (best.pair >= 0) {
        const tt_diff_pair *p = &d->pairs[best.pair];
        f->point = p->point;
        f->root_cause = p->root_cause;
        /* the chain: what follows in the group */
        uint64_t n = 0;
        for (size_t i = (size_t)best.pair + 1; i < d->npairs && d->pairs[i].group == p->group; i++)
            n++;
        d->chain = malloc((n ? n : 1) * sizeof *d->chain);
        if (!d->chain)
            return diff_err(d, TT_E_NOMEM, "out of memory");
        d->nchain = 0;
        for (size_t i = (size_t)best.pair + 1; i < d->npairs && d->pairs[i].group == p->group; i++)
            if (d->pairs[i].verdict != TT_DIFF_MATCH)
                d->chain[d->nchain++] = i;
        return diff_detail(d, p, f);
    }
    const tt_diff_kv_check *k = &d->kv[best.kv];
    f->point = k->point;
    f->root_cause = k->kind == TT_DIFF_KV_CAUSAL ? "CAUSAL_MASK_DRIFT" : "KV_CACHE_DRIFT";
    return TT_OK;
}

/* ---- kv_aligned evidence ------------------------------------------------------------------------------------ */

static const char *const qkv_points[] = {"q_pre_rope", "q_post_rope", "k_pre_rope", "k_post_rope", "v",
                                         "attn_scores", "attn_probs"};

static int qkv_evidence(tt_diff *d, const char **missing_out)
{
    int have_q = 0, have_k = 0, have_v = 0, have_sm = 0, have_cache = 0;
    for (size_t k = 0; k < sizeof qkv_points / sizeof qkv_points[0]; k++) {
        uint64_t n = 0, same = 0;
        double worst = 0;
        int64_t wi = -1;
        for (size_t i = 0; i < d->npairs; i++) {
            const tt_diff_pair *p = &d->pairs[i];
            if (strcmp(p->point, qkv_points[k]) != 0 || !(p->flags & (TT_DIFF_PAIR_COMPARED | TT_DIFF_PAIR_HASH_SKIP)))
                continue;
            n++;
            same += p->left.hash == p->right.hash;
            double e = p->j.error;
            if (wi < 0 || e > worst) {
                worst = e;
                wi = (int64_t)i;
            }
        }
        if (!n)
            continue;
        if (k <= 1)
            have_q = 1;
        else if (k <= 3)
            have_k = 1;
        else if (k == 4)
            have_v = 1;
        else
            have_sm = 1;
        const tt_diff_pair *w = &d->pairs[wi];
        int rc = diff_evidence(d, TT_DIFF_EV_QKV, wi, worst, w->m.max_abs,
                               "%s: %llu pairs, %llu with equal hashes; largest relative L2 error %.3g (layer %d, "
                               "%s); pre/post values min %.6g/%.6g max %.6g/%.6g mean %.6g/%.6g there",
                               qkv_points[k], (unsigned long long)n, (unsigned long long)same, worst, w->layer,
                               w->left.key.prompt_id, w->left.stats.min, w->right.stats.min, w->left.stats.max,
                               w->right.stats.max, w->left.stats.mean, w->right.stats.mean);
        if (rc != TT_OK)
            return diff_err(d, rc, "out of memory");
    }
    for (size_t i = 0; i < d->npairs; i++)
        if (diff_is_cache_point(d, d->pairs[i].point) &&
            (d->pairs[i].flags & (TT_DIFF_PAIR_COMPARED | TT_DIFF_PAIR_HASH_SKIP)))
            have_cache = 1;
    static char const *const what[] = {"no Q tensors (q_pre_rope/q_post_rope)", "no K tensors (k_pre_rope/k_post_rope)",
                                       "no V tensors (v)", "no attention score/probability tensors",
                                       "no KV-cache tensors (k_cache/v_cache)"};
    const int have[] = {have_q, have_k, have_v, have_sm, have_cache};
    *missing_out = NULL;
    for (int i = 0; i < 5; i++)
        if (!have[i]) {
            *missing_out = what[i];
            break;
        }
    return TT_OK;
}

/* ---- warnings on the inputs --------------------------------------------------------------------------------- */

static const char *meta_get(const tt_diff *d, int side, const char *key)
{
    for (uint64_t i = 0; i < d->nmeta[side]; i++)
        if (strcmp(d->meta[side][2 * i], key) == 0)
            return d->meta[side][2 * i + 1];
    return NULL;
}

/* One note on the attention scores/probabilities compared over the common leading columns of two context lengths
 * (measure.c), naming the first such pair. */
static int common_columns_note(tt_diff *d)
{
    uint64_t n = 0, lc = 0, rc = 0;
    int64_t first = -1;
    for (size_t i = 0; i < d->npairs; i++) {
        uint64_t o, a, b;
        if ((d->pairs[i].flags & TT_DIFF_PAIR_COMPARED) && diff_common_columns(&d->pairs[i], &o, &a, &b) && !n++) {
            first = (int64_t)i;
            lc = a, rc = b;
        }
    }
    if (!n)
        return TT_OK;
    const tt_diff_pair *p = &d->pairs[first];
    return diff_evidence(d, TT_DIFF_EV_NOTE, first, (double)n, (double)(lc < rc ? lc : rc),
                         "%llu attention score/probability pairs span different context lengths (first: %s layer %d "
                         "at position %d: %llu columns left, %llu right): compared over their common leading %llu "
                         "columns (keys 0..%llu); the longer side's later columns are not compared",
                         (unsigned long long)n, p->point, p->layer, (int)p->left.key.pos_id + (int)p->left.row_begin,
                         (unsigned long long)lc, (unsigned long long)rc,
                         (unsigned long long)(lc < rc ? lc : rc), (unsigned long long)((lc < rc ? lc : rc) - 1));
}

static int input_warnings(tt_diff *d)
{
    static const char *const keys[] = {"engine", "engine_version", "model", "dtype"};
    int rc = TT_OK;
    if (!d->same_file)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0] && rc == TT_OK; k++) {
            const char *a = meta_get(d, 0, keys[k]), *b = meta_get(d, 1, keys[k]);
            if (a && b && strcmp(a, b) != 0)
                rc = diff_evidence(d, TT_DIFF_EV_WARNING, -1, 0, 0, "the files differ in metadata '%s': '%.200s' vs "
                                   "'%.200s'", keys[k], a, b);
        }
    if (rc == TT_OK && d->counts.duplicates)
        rc = diff_evidence(d, TT_DIFF_EV_WARNING, -1, (double)d->counts.duplicates, 0,
                           "%llu pairs come from keys that are not unique on a side (paired in capture order); "
                           "the key (%s) may lack a field", (unsigned long long)d->counts.duplicates, d->key_text);
    if (rc == TT_OK && d->counts.errors)
        rc = diff_evidence(d, TT_DIFF_EV_WARNING, -1, (double)d->counts.errors, 0,
                           "%llu pairs could not be compared (see their error)", (unsigned long long)d->counts.errors);
    if (rc == TT_OK && d->counts.uncovered_rows)
        rc = diff_evidence(d, TT_DIFF_EV_NOTE, -1, (double)d->counts.uncovered_rows, 0,
                           "%llu rows of multi-row records have no single-position partner (--align pos)",
                           (unsigned long long)d->counts.uncovered_rows);
    if (rc == TT_OK)
        rc = common_columns_note(d);
    if (rc == TT_OK && d->counts.stats_only)
        rc = diff_evidence(d, TT_DIFF_EV_NOTE, -1, (double)d->counts.stats_only, 0,
                           "%llu pairs hold no tensors (hash/stats-only records, e.g. legacy imports): compared by "
                           "hash and min/max/mean only", (unsigned long long)d->counts.stats_only);
    return rc == TT_OK ? TT_OK : diff_err(d, rc, "out of memory");
}

/* ---- what decided ------------------------------------------------------------------------------------------ */

#define EV_PER_KIND 32 /* evidence items of one kind; the rest are counted in one note */

/* One evidence item per failing pair decided by the judged error, a fit or non-finite values (the first
 * EV_PER_KIND of each in pipeline order), one note on mixed dtypes. */
static int decision_evidence(tt_diff *d)
{
    uint64_t n[4] = {0, 0, 0, 0}; /* fresh/amplified, structured, nonfinite, dtypes */
    int rc = TT_OK;
    double worst_ulp = 0;
    tt_dtype ld = TT_DTYPE_UNKNOWN, rd = TT_DTYPE_UNKNOWN, ud = TT_DTYPE_UNKNOWN;
    for (size_t i = 0; i < d->npairs && rc == TT_OK; i++) {
        const tt_diff_pair *p = &d->pairs[i];
        const tt_diff_judgement *j = &p->j;
        if (p->flags & TT_DIFF_PAIR_DTYPES) {
            if (!n[3]++) {
                ld = p->left.dtype, rd = p->right.dtype, ud = j->ulp_dtype;
            }
            worst_ulp = p->m.max_ulp > worst_ulp ? p->m.max_ulp : worst_ulp;
        }
        if (p->numeric_verdict != TT_DIFF_MISMATCH)
            continue;
        const char *pn = tt_dtype_name(j->precision);
        switch (j->decided_by) {
        case TT_DIFF_BY_FRESH:
        case TT_DIFF_BY_AMPLIFIED:
            if (n[0]++ >= EV_PER_KIND)
                break;
            if (j->decided_by == TT_DIFF_BY_FRESH)
                rc = diff_evidence(d, TT_DIFF_EV_FRESH, (int64_t)i, j->error, j->floor,
                                   "%s layer %d: fresh divergence: judged error %.3g (%.2f units of %s) over inputs "
                                   "at %.3g, above the floor %.3g (%.3g units): the stage adds it",
                                   p->point, p->layer, j->error, j->error / j->unit, pn, j->baseline, j->floor,
                                   j->floor / j->unit);
            else
                rc = diff_evidence(d, TT_DIFF_EV_JUMP, (int64_t)i, j->error, j->baseline,
                                   "%s layer %d: judged error %.3g is %.3gx its inputs' %.3g (allowed %.3g = %.3gx "
                                   "them, %s): amplified beyond what drift explains",
                                   p->point, p->layer, j->error, j->baseline > 0 ? j->error / j->baseline : INFINITY,
                                   j->baseline, j->allowed, d->o.jump_ratio, pn);
            break;
        case TT_DIFF_BY_SCALE:
        case TT_DIFF_BY_OFFSET:
            if (n[1]++ >= EV_PER_KIND)
                break;
            if (j->decided_by == TT_DIFF_BY_SCALE)
                rc = diff_evidence(d, TT_DIFF_EV_STRUCTURED, (int64_t)i, j->fit_alpha, j->fit_alpha_t,
                                   "%s layer %d: scale error: left = %.6g x right (+ offset) over %llu elements, t = "
                                   "%.3g (threshold %.3g; rounding noise is unbiased), inputs at %.3g",
                                   p->point, p->layer, 1 + j->fit_alpha, (unsigned long long)j->fit_n,
                                   j->fit_alpha_t, d->o.stat_threshold, j->baseline);
            else
                rc = diff_evidence(d, TT_DIFF_EV_STRUCTURED, (int64_t)i, j->fit_beta, j->fit_beta_t,
                                   "%s layer %d: offset error: left - right has a bias of %.3g x the scale %.3g over "
                                   "%llu elements, t = %.3g (threshold %.3g), inputs at %.3g",
                                   p->point, p->layer, j->fit_beta, j->scale, (unsigned long long)j->fit_n,
                                   j->fit_beta_t, d->o.stat_threshold, j->baseline);
            break;
        case TT_DIFF_BY_NONFINITE:
            if (n[2]++ >= EV_PER_KIND)
                break;
            rc = diff_evidence(d, TT_DIFF_EV_NONFINITE, (int64_t)i,
                               (double)(j->nonfinite[0].nan + j->nonfinite[1].nan),
                               (double)(j->nonfinite[0].inf + j->nonfinite[1].inf),
                               "%s layer %d: non-finite values: left %llu NaN %llu Inf, right %llu NaN %llu Inf, "
                               "%llu NaN and %llu Inf disagreements%s",
                               p->point, p->layer, (unsigned long long)j->nonfinite[0].nan,
                               (unsigned long long)j->nonfinite[0].inf, (unsigned long long)j->nonfinite[1].nan,
                               (unsigned long long)j->nonfinite[1].inf, (unsigned long long)p->m.nan_mismatch,
                               (unsigned long long)p->m.inf_mismatch,
                               d->o.allow_nonfinite ? "" : " (--allow-nonfinite accepts those both sides hold)");
            break;
        default: break;
        }
    }
    static const char *const what[] = {"judged-error", "scale/offset", "non-finite"};
    for (int k = 0; k < 3 && rc == TT_OK; k++)
        if (n[k] > EV_PER_KIND)
            rc = diff_evidence(d, TT_DIFF_EV_NOTE, -1, (double)(n[k] - EV_PER_KIND), 0,
                               "%llu more %s findings (the first %d are listed)",
                               (unsigned long long)(n[k] - EV_PER_KIND), what[k], EV_PER_KIND);
    if (rc == TT_OK && n[3])
        rc = diff_evidence(d, TT_DIFF_EV_DTYPES, -1, (double)n[3], worst_ulp,
                           "%llu pairs differ in dtype (first: left %s, right %s): judged at the coarser precision, "
                           "differences counted in units in the last place of %s at the reference value (largest "
                           "%.3g)",
                           (unsigned long long)n[3], tt_dtype_name(ld), tt_dtype_name(rd), tt_dtype_name(ud),
                           worst_ulp);
    return rc == TT_OK ? TT_OK : diff_err(d, rc, "out of memory");
}

/* The first pair in pipeline order holding a NaN or Inf on each side (ties: the earlier group). */
static void first_nonfinite(tt_diff *d)
{
    for (int s = 0; s < 2; s++) {
        d->first_nonfinite[s] = -1;
        for (size_t i = 0; i < d->npairs; i++) {
            const tt_diff_pair *p = &d->pairs[i];
            const tt_diff_nonfinite *nf = &p->j.nonfinite[s];
            if (!nf->nan && !nf->inf)
                continue;
            if (d->first_nonfinite[s] < 0) {
                d->first_nonfinite[s] = (int64_t)i;
                continue;
            }
            const tt_diff_pair *b = &d->pairs[d->first_nonfinite[s]];
            if (pipe_cmp(diff_where_of(d, p), p->layer, p->stage_rank, diff_where_of(d, b), b->layer,
                         b->stage_rank) < 0)
                d->first_nonfinite[s] = (int64_t)i;
        }
    }
}

int diff_explain(tt_diff *d)
{
    int rc;
    for (size_t i = 0; i < d->npairs; i++)
        if (d->pairs[i].verdict != TT_DIFF_MATCH && (rc = name_root_cause(d, &d->pairs[i])) != TT_OK)
            return rc;
    count_all(d);
    if ((rc = first_failures(d)) != TT_OK)
        return rc;
    const char *missing = NULL;
    if (d->o.mode == TT_DIFF_KV_ALIGNED && (rc = qkv_evidence(d, &missing)) != TT_OK)
        return rc;
    if ((rc = input_warnings(d)) != TT_OK || (rc = decision_evidence(d)) != TT_OK)
        return rc;
    first_nonfinite(d);

    uint64_t kv_failed = 0;
    for (size_t i = 0; i < d->nkv; i++)
        kv_failed += d->kv[i].passed == 0;
    const tt_diff_counts *c = &d->counts;
    uint64_t real = c->mismatch;
    if (d->o.mode == TT_DIFF_KV_ALIGNED) {
        /* kv_aligned judges from tensors: hash/stats-only mismatches are not evidence of a KV bug */
        real = 0;
        for (size_t i = 0; i < d->npairs; i++)
            real += d->pairs[i].verdict == TT_DIFF_MISMATCH &&
                    !(d->pairs[i].flags & (TT_DIFF_PAIR_STATS_ONLY | TT_DIFF_PAIR_HASH_ONLY));
    }
    if (real || c->missing || kv_failed) {
        d->overall = TT_DIFF_OVERALL_MISMATCH;
        d->subcause = d->has_failure ? d->failure.root_cause : "TRACE_OFFSET";
    } else if (d->o.mode == TT_DIFF_KV_ALIGNED && (missing || c->stats_only)) {
        d->overall = TT_DIFF_NA;
        d->subcause = missing ? missing : "hash/stats-only records: KV alignment not available in this trace";
    } else if (c->within_tol) {
        d->overall = TT_DIFF_STRUCTURAL_DRIFT;
    } else {
        d->overall = TT_DIFF_IDENTICAL;
    }
    if (d->subcause && !(d->subcause = diff_intern(d, d->subcause)))
        return diff_err(d, TT_E_NOMEM, "out of memory");
    if (d->has_failure && !d->failure.root_cause)
        d->failure.root_cause = "TRACE_OFFSET";
    return TT_OK;
}

/* The absolute tolerance a compared pair needs beyond its relative part: max over its finite elements of
 * |l - r| - rtol |r| (at least 0), read again from the files. Returns -1 when the tensors cannot be read. */
static double needed_atol(tt_reader *rd[2], const tt_diff_pair *p, double rtol, uint8_t *buf[2], size_t cap[2])
{
    char err[256];
    const tt_diff_side *s[2] = {&p->left, &p->right};
    for (int k = 0; k < 2; k++)
        if (diff_read_rows(rd[k], s[k], s[k]->row_begin, s[k]->row_count, &buf[k], &cap[k], err, sizeof err) != TT_OK)
            return -1;
    diff_keep_common_columns(p, buf[0], buf[1], NULL, NULL); /* scores/probabilities of two context lengths */
    uint64_t n = p->m.elems;
    size_t el = tt_dtype_size(p->left.dtype), er = tt_dtype_size(p->right.dtype);
    double x[256], y[256], need = 0;
    for (uint64_t off = 0; off < n; off += 256) {
        size_t k = n - off < 256 ? (size_t)(n - off) : 256;
        tt_to_f64(p->left.dtype, buf[0] + off * el, k, x);
        tt_to_f64(p->right.dtype, buf[1] + off * er, k, y);
        for (size_t i = 0; i < k; i++) {
            double v = fabs(x[i] - y[i]) - rtol * fabs(y[i]);
            if (isfinite(v) && v > need)
                need = v;
        }
    }
    return need;
}

int tt_diff_calibrate(const tt_diff *d, double margin, tt_diff_tols **out)
{
    if (!d || !out || d->failed)
        return TT_E_INVAL;
    if (!(margin > 0) || !isfinite(margin))
        margin = 4;
    tt_diff_tols *t = tt_diff_tols_new();
    if (!t)
        return TT_E_NOMEM;
    tt_reader *rd[2] = {NULL, NULL};
    uint8_t *buf[2] = {NULL, NULL};
    size_t cap[2] = {0, 0};
    int rc = diff_open_side((tt_diff *)d, 0, &rd[0]);
    if (rc == TT_OK)
        rc = diff_open_side((tt_diff *)d, 1, &rd[1]);
    for (size_t i = 0; i < d->npairs && rc == TT_OK; i++) {
        const tt_diff_pair *p = &d->pairs[i];
        if (!p->left.present || !p->right.present || (p->flags & TT_DIFF_PAIR_ERROR))
            continue;
        if (!(p->flags & (TT_DIFF_PAIR_COMPARED | TT_DIFF_PAIR_HASH_SKIP)))
            continue;
        double rtol;
        tt_diff_default_tol(p->j.precision, &rtol, NULL, NULL);
        double atol = 0, srms = 0;
        if (p->flags & TT_DIFF_PAIR_COMPARED) {
            /* what the good run needs beyond the relative part (the largest |l - r| - rtol |r|, not the largest
             * |l - r|: a massive channel's difference is covered by its own rtol and does not loosen the others'
             * tolerance): never looser than the defaults unless the run needs it */
            double need = needed_atol(rd, p, rtol, buf, cap);
            if (need < 0)
                need = p->m.max_abs;
            if (p->m.ref_rms > 0)
                srms = margin * need / p->m.ref_rms;
            else
                atol = margin * need;
        }
        if (!isfinite(atol) || !isfinite(srms))
            continue;
        for (int any = 0; any <= 1 && rc == TT_OK; any++) {
            tol_entry *e = diff_tol_find(t, p->point, any, p->layer);
            if (e) {
                e->rtol = e->rtol > rtol ? e->rtol : rtol;
                e->atol = e->atol > atol ? e->atol : atol;
                e->atol_rms = e->atol_rms > srms ? e->atol_rms : srms;
            } else {
                rc = tt_diff_tols_set(t, p->point, any, p->layer, rtol, atol, srms, "calibrated");
            }
        }
    }
    tt_reader_close(rd[0]);
    tt_reader_close(rd[1]);
    free(buf[0]);
    free(buf[1]);
    if (rc != TT_OK) {
        tt_diff_tols_free(t);
        return rc;
    }
    *out = t;
    return TT_OK;
}
