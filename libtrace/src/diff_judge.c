/*
 * diff_judge.c — from compared pairs to an answer: each pair's verdict in the run's mode and its root cause
 * name, the jump detector, the KV-cache checks of kv_aligned mode (diff_kv.c), per-group and global first
 * failure with its propagation chain and detail pass, the overall verdict (N/A when kv_aligned lacks evidence),
 * and the evidence list (jumps, stats-only comparisons, Q/K/V and softmax summaries, warnings on the inputs).
 */
#include "diff_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

int diff_judge(tt_diff *d);

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

static int where_of(const tt_diff *d, const tt_diff_pair *p)
{
    if (p->layer >= 0)
        return 1;
    return p->stage_rank < d->min_layered_rank ? 0 : 2;
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

/* ---- jumps -------------------------------------------------------------------------------------------------- */

static double pair_err(const tt_diff_pair *p)
{
    if (p->flags & TT_DIFF_PAIR_HASH_SKIP)
        return 0;
    if (!(p->flags & TT_DIFF_PAIR_COMPARED))
        return NAN;
    return p->m.rel_l2;
}

static int find_jumps(tt_diff *d)
{
    size_t i = 0;
    while (i < d->npairs) {
        size_t e = i;
        while (e < d->npairs && d->pairs[e].group == d->pairs[i].group)
            e++;
        /* within the group the pairs are in pipeline order: blocks of (where, layer) */
        double prev_block_out = NAN; /* error of the last non-cache stage of the previous block */
        size_t b = i;
        while (b < e) {
            size_t be = b;
            int w = where_of(d, &d->pairs[b]);
            while (be < e && where_of(d, &d->pairs[be]) == w && d->pairs[be].layer == d->pairs[b].layer)
                be++;
            double base = prev_block_out, last_out = NAN;
            for (size_t k = b; k < be; k++) {
                tt_diff_pair *p = &d->pairs[k];
                double err = pair_err(p);
                if (isnan(err))
                    continue;
                tt_dtype td = diff_dtype_eps(p->left.dtype) >= diff_dtype_eps(p->right.dtype) ? p->left.dtype
                                                                                              : p->right.dtype;
                double floor = d->o.jump_floor * diff_dtype_eps(td);
                if (!isnan(base) && p->verdict != TT_DIFF_MATCH && floor > 0) {
                    double ref = base > floor ? base : floor;
                    if (err > d->o.jump_ratio * ref) {
                        p->flags |= TT_DIFF_PAIR_JUMP;
                        p->jump_ratio = err / ref;
                        p->jump_baseline = base;
                        d->counts.jumps++;
                        int rc = diff_evidence(d, TT_DIFF_EV_JUMP, (int64_t)k, err, base,
                                               "%s layer %d: relative L2 error %.3g is %.3gx its inputs' %.3g "
                                               "(floor %.3g): a jump, the mark of a bug rather than drift",
                                               p->point, p->layer, err, p->jump_ratio, base, floor);
                        if (rc != TT_OK)
                            return diff_err(d, rc, "out of memory");
                    }
                }
                base = isnan(base) || err > base ? err : base;
                if (!diff_is_cache_point(d, p->point))
                    last_out = err;
            }
            if (!isnan(last_out))
                prev_block_out = last_out;
            b = be;
        }
        i = e;
    }
    return TT_OK;
}

/* ---- verdicts ----------------------------------------------------------------------------------------------- */

static int set_verdicts(tt_diff *d)
{
    for (size_t i = 0; i < d->npairs; i++) {
        tt_diff_pair *p = &d->pairs[i];
        if (!p->left.present || !p->right.present) {
            p->verdict = p->numeric_verdict = TT_DIFF_MISSING;
            continue;
        }
        if (!p->m.tol_source) {
            char buf[64];
            tt_dtype td = diff_dtype_eps(p->left.dtype) >= diff_dtype_eps(p->right.dtype) ? p->left.dtype
                                                                                          : p->right.dtype;
            snprintf(buf, sizeof buf, "default %s", tt_dtype_name(td));
            if (!(p->m.tol_source = diff_intern(d, buf)))
                return diff_err(d, TT_E_NOMEM, "out of memory");
        }
        if (d->o.mode == TT_DIFF_AS_DESIGNED) {
            /* the legacy probe: pass on equal content hashes (bitwise equality for row ranges) */
            int whole = !(p->flags & TT_DIFF_PAIR_ROWS);
            int hashes = (p->left.flags & TT_REC_HAS_HASH) && (p->right.flags & TT_REC_HAS_HASH);
            int pass = whole && hashes ? p->left.hash == p->right.hash : p->numeric_verdict == TT_DIFF_MATCH;
            if (p->flags & TT_DIFF_PAIR_ERROR)
                pass = 0;
            p->verdict = pass ? TT_DIFF_MATCH : TT_DIFF_MISMATCH;
        } else {
            p->verdict = p->numeric_verdict;
        }
        if ((p->flags & (TT_DIFF_PAIR_STATS_ONLY | TT_DIFF_PAIR_HASH_ONLY)) && p->numeric_verdict != TT_DIFF_MATCH) {
            const tt_stats *a = &p->left.stats, *b = &p->right.stats;
            int rc;
            if (p->flags & TT_DIFF_PAIR_STATS_ONLY)
                rc = diff_evidence(d, TT_DIFF_EV_STATS, (int64_t)i, p->m.max_abs, p->jump_baseline,
                                   "%s layer %d: stats-only comparison (no tensors): min %.9g vs %.9g, max %.9g vs "
                                   "%.9g, mean %.9g vs %.9g; largest difference %.3g against tolerance %.3g",
                                   p->point, p->layer, a->min, b->min, a->max, b->max, a->mean, b->mean, p->m.max_abs,
                                   p->jump_baseline);
            else
                rc = diff_evidence(d, TT_DIFF_EV_STATS, (int64_t)i, 0, 0,
                                   "%s layer %d: hash-only comparison (no tensors, no stats): hash %016llx vs %016llx",
                                   p->point, p->layer, (unsigned long long)p->left.hash,
                                   (unsigned long long)p->right.hash);
            if (rc != TT_OK)
                return diff_err(d, rc, "out of memory");
            p->jump_baseline = 0;
        }
    }
    return TT_OK;
}

static void count_all(tt_diff *d)
{
    tt_diff_counts *c = &d->counts;
    c->pairs = d->npairs;
    c->match = c->within_tol = c->mismatch = c->missing = c->errors = c->stats_only = c->hash_skipped = 0;
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
        cand c = {where_of(d, p), p->layer, p->stage_rank, p->group, (int64_t)i, -1};
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
            double e = pair_err(p);
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
    if (rc == TT_OK && d->counts.stats_only)
        rc = diff_evidence(d, TT_DIFF_EV_NOTE, -1, (double)d->counts.stats_only, 0,
                           "%llu pairs hold no tensors (hash/stats-only records, e.g. legacy imports): compared by "
                           "hash and min/max/mean only", (unsigned long long)d->counts.stats_only);
    return rc == TT_OK ? TT_OK : diff_err(d, rc, "out of memory");
}

int diff_judge(tt_diff *d)
{
    int rc;
    if ((rc = set_verdicts(d)) != TT_OK)
        return rc;
    if ((rc = find_jumps(d)) != TT_OK)
        return rc;
    if (d->o.mode == TT_DIFF_KV_ALIGNED && (rc = diff_kv_checks(d)) != TT_OK)
        return rc;
    for (size_t i = 0; i < d->npairs; i++)
        if (d->pairs[i].verdict != TT_DIFF_MATCH && (rc = name_root_cause(d, &d->pairs[i])) != TT_OK)
            return rc;
    count_all(d);
    if ((rc = first_failures(d)) != TT_OK)
        return rc;
    const char *missing = NULL;
    if (d->o.mode == TT_DIFF_KV_ALIGNED && (rc = qkv_evidence(d, &missing)) != TT_OK)
        return rc;
    if ((rc = input_warnings(d)) != TT_OK)
        return rc;

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
