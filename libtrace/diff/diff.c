/*
 * diff.c — the diff engine's entry point: tt_diff_run() runs the pipeline pair -> measure -> judge -> explain
 * (core.h says what each step does), and the accessors of its results.
 */
#include "explain.h"

#include <stdlib.h>
#include <string.h>

/* The pipeline: pair -> measure -> judge -> explain. */
static int run(tt_diff *d, const tt_filter *lf, const tt_filter *rf)
{
    int rc;
    if ((rc = diff_pair_all(d, lf, rf)) != TT_OK || (rc = diff_compare_all(d)) != TT_OK ||
        (rc = diff_judge(d)) != TT_OK)
        return rc;
    if ((rc = diff_explain(d)) != TT_OK)
        return rc;
    return diff_plan(d);
}

int tt_diff_run(tt_diff **out, const char *left_path, const tt_filter *left_filter, const char *right_path,
                const tt_filter *right_filter, const tt_diff_options *opts)
{
    const char *l[1] = {left_path}, *r[1] = {right_path};
    return tt_diff_run_many(out, left_path ? l : NULL, left_path ? 1 : 0, left_filter,
                            right_path && *right_path ? r : NULL, right_path && *right_path ? 1 : 0, right_filter,
                            opts);
}

int tt_diff_run_many(tt_diff **out, const char *const *left, size_t nleft, const tt_filter *left_filter,
                     const char *const *right, size_t nright, const tt_filter *right_filter,
                     const tt_diff_options *opts)
{
    if (!out)
        return TT_E_INVAL;
    tt_diff *d = calloc(1, sizeof *d);
    *out = d;
    if (!d)
        return TT_E_NOMEM;
    tt_intern_init(&d->strings);
    d->overall = TT_DIFF_NA;
    d->first_nonfinite[0] = d->first_nonfinite[1] = -1;
    d->o.size = sizeof d->o;
    if (opts) {
        if (opts->size < sizeof(uint32_t) || opts->size > 4096)
            return diff_err(d, TT_E_INVAL, "options: size %u is not a tt_diff_options size", opts->size);
        memcpy(&d->o, opts, opts->size < sizeof d->o ? opts->size : sizeof d->o);
        d->o.size = sizeof d->o;
    }
    uint64_t t0 = tt_monotonic_ns();
    tt_filter *own[2] = {NULL, NULL};
    const tt_filter *lf = left_filter, *rf = right_filter;
    int rc = diff_pair_setup(d, left, nleft, right, nright, &lf, &rf, own);
    if (rc == TT_OK)
        rc = run(d, lf, rf);
    tt_filter_free(own[0]);
    tt_filter_free(own[1]);
    d->seconds = (double)(tt_monotonic_ns() - t0) * 1e-9;
    if (rc != TT_OK) {
        if (!d->errmsg[0])
            diff_err(d, rc, "%s", tt_strerror(rc));
        d->failed = 1;
        d->overall = TT_DIFF_NA;
    }
    return rc;
}

void tt_diff_free(tt_diff *d)
{
    if (!d)
        return;
    tt_diff_tols_free(d->tols);
    free(d->key_text);
    free(d->stages_text);
    free(d->left_path);
    free(d->right_path);
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; d->paths[s] && i < d->npaths[s]; i++)
            free(d->paths[s][i]);
        free(d->paths[s]);
        tt_reader_close(d->src[s]);
    }
    free(d->cache_points_text);
    for (int s = 0; s < 2; s++) {
        free(d->units[s]);
        free(d->shards[s].records);
        free(d->shards[s].begin);
        free(d->shards[s].ranks);
        for (uint64_t i = 0; d->meta[s] && i < 2 * d->nmeta[s]; i++)
            free(d->meta[s][i]);
        free(d->meta[s]);
    }
    free(d->stages);
    free(d->cache_points);
    free(d->pairs);
    free(d->groups);
    free(d->worst);
    free(d->chain);
    free(d->ev.v);
    free(d->kv);
    tt_intern_free(&d->strings);
    free(d);
}

/* ---- accessors ---------------------------------------------------------------------------------------------- */

const char *tt_diff_errmsg(const tt_diff *d)
{
    return d ? d->errmsg : "";
}

tt_diff_overall tt_diff_overall_verdict(const tt_diff *d)
{
    return d && !d->failed ? d->overall : TT_DIFF_NA;
}

const char *tt_diff_subcause(const tt_diff *d)
{
    return d && !d->failed ? d->subcause : NULL;
}

int tt_diff_counts_get(const tt_diff *d, tt_diff_counts *out)
{
    if (!d || !out)
        return TT_E_INVAL;
    *out = d->counts;
    return TT_OK;
}

int tt_diff_info_get(const tt_diff *d, tt_diff_info *out)
{
    if (!d || !out)
        return TT_E_INVAL;
    memset(out, 0, sizeof *out);
    out->key = d->key_text ? d->key_text : "";
    out->stages = d->stages_text ? d->stages_text : "";
    out->mode = d->o.mode;
    out->align = d->o.align;
    out->threads = d->threads;
    out->seconds = d->seconds;
    out->left_path = d->left_path ? d->left_path : "";
    out->right_path = d->right_path ? d->right_path : "";
    out->jump_ratio = d->o.jump_ratio;
    out->jump_floor = d->o.jump_floor;
    out->stat_threshold = d->o.stat_threshold;
    out->allow_nonfinite = d->o.allow_nonfinite;
    return TT_OK;
}

uint64_t tt_diff_pair_count(const tt_diff *d)
{
    return d && !d->failed ? d->npairs : 0;
}

const tt_diff_pair *tt_diff_pair_at(const tt_diff *d, uint64_t i)
{
    return d && !d->failed && i < d->npairs ? &d->pairs[i] : NULL;
}

uint32_t tt_diff_group_count(const tt_diff *d)
{
    return d && !d->failed ? d->ngroups : 0;
}

const tt_diff_group *tt_diff_group_at(const tt_diff *d, uint32_t i)
{
    return d && !d->failed && i < d->ngroups ? &d->groups[i] : NULL;
}

const tt_diff_failure *tt_diff_first_failure(const tt_diff *d)
{
    return d && !d->failed && d->has_failure ? &d->failure : NULL;
}

const uint64_t *tt_diff_chain(const tt_diff *d, uint64_t *n)
{
    if (n)
        *n = d && !d->failed ? d->nchain : 0;
    return d ? d->chain : NULL;
}

const tt_diff_pair *tt_diff_first_nonfinite(const tt_diff *d, int side)
{
    if (!d || d->failed || side < 0 || side > 1 || d->first_nonfinite[side] < 0)
        return NULL;
    return &d->pairs[d->first_nonfinite[side]];
}

uint64_t tt_diff_evidence_count(const tt_diff *d)
{
    return d ? d->ev.n : 0;
}

const tt_diff_evidence *tt_diff_evidence_at(const tt_diff *d, uint64_t i)
{
    return d && i < d->ev.n ? &d->ev.v[i] : NULL;
}

uint64_t tt_diff_kv_check_count(const tt_diff *d)
{
    return d && !d->failed ? d->nkv : 0;
}

const tt_diff_kv_check *tt_diff_kv_check_at(const tt_diff *d, uint64_t i)
{
    return d && !d->failed && i < d->nkv ? &d->kv[i] : NULL;
}

uint64_t tt_diff_meta_count(const tt_diff *d, int side)
{
    return d && (side == 0 || side == 1) ? d->nmeta[side] : 0;
}

int tt_diff_meta(const tt_diff *d, int side, uint64_t i, const char **key, const char **value)
{
    if (!d || (side != 0 && side != 1) || i >= d->nmeta[side])
        return TT_E_RANGE;
    if (key)
        *key = d->meta[side][2 * i];
    if (value)
        *value = d->meta[side][2 * i + 1];
    return TT_OK;
}
