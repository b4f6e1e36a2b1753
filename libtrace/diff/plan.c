/*
 * plan.c — the capture plan of a two-pass capture (tt_diff_plan_get): after a diff of cheap traces (hash or
 * stats), the TT_TRACE_* filters that capture in full only around the first divergence — its prompt and phases,
 * the layer before it to the layer after, the stages up to one past it plus the stage that hands a layer to the
 * next — and how many of the left side's records they select. Runs after the pipeline (diff.c); reads only the
 * results and the sides' units.
 */
#include "pair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has_ptr(const char *const *v, size_t n, const char *p)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == p)
            return 1;
    return 0;
}

int diff_plan(tt_diff *d)
{
    memset(&d->plan, 0, sizeof d->plan);
    d->plan.pair = -1;
    d->plan.layer_lo = d->plan.layer_hi = TT_UNSET;
    const tt_diff_failure *f = tt_diff_first_failure(d);
    if (!f || f->pair < 0)
        return TT_OK;
    const tt_diff_pair *p = &d->pairs[f->pair];
    const tt_diff_side *s = p->left.present ? &p->left : &p->right;
    /* the layers seen, and the stage that ends a layer (the highest stage rank inside layers) */
    int32_t max_layer = -1, last_in_layer = -1;
    for (size_t i = 0; i < d->npairs; i++) {
        const tt_diff_pair *q = &d->pairs[i];
        if (q->layer > max_layer)
            max_layer = q->layer;
        if (q->layer >= 0 && q->stage_rank > last_in_layer)
            last_in_layer = q->stage_rank;
    }
    int where = diff_where_of(d, p);
    int32_t lo, hi;
    if (where == 1)
        lo = p->layer > 0 ? p->layer - 1 : 0, hi = p->layer < max_layer ? p->layer + 1 : p->layer;
    else if (where == 0)
        lo = hi = 0;
    else
        lo = hi = max_layer < 0 ? 0 : max_layer;
    /* points: every stage present up to one past the divergence (in its place: before, in or after the
     * layers), and the stage that ends a layer, which feeds the next */
    const char **pts = calloc(d->nstages ? d->nstages : 1, sizeof *pts);
    int *kind = calloc(d->nstages ? d->nstages : 1, sizeof *kind); /* 0 absent, 1 + where */
    if (!pts || !kind) {
        free(pts);
        free(kind);
        return diff_err(d, TT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < d->npairs; i++) {
        const tt_diff_pair *q = &d->pairs[i];
        if (q->stage_rank >= 0 && (size_t)q->stage_rank < d->nstages && !kind[q->stage_rank])
            kind[q->stage_rank] = 1 + diff_where_of(d, q);
    }
    int32_t sr = p->stage_rank, next = -1;
    for (size_t r = (size_t)(sr + 1); r < d->nstages && next < 0; r++)
        if (kind[r])
            next = (int32_t)r;
    size_t npts = 0;
    for (size_t r = 0; r < d->nstages; r++) {
        int w = kind[r] - 1;
        int32_t ri = (int32_t)r;
        int want = w >= 0 && (ri == next || (w == where && ri <= sr) || (w == 1 && where != 0 && ri == last_in_layer));
        if (want)
            pts[npts++] = d->stages[r];
    }
    free(kind);
    char buf[4096];
    size_t o = 0;
    for (size_t i = 0; i < npts && o < sizeof buf - 300; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? "," : "", pts[i]);
    d->plan.points = diff_intern(d, buf);
    snprintf(buf, sizeof buf, lo == hi ? "%d" : "%d-%d", (int)lo, (int)hi);
    d->plan.layers = diff_intern(d, buf);
    const tt_diff_group *g = &d->groups[p->group];
    d->plan.prompts = diff_intern(d, g->prompt_id ? g->prompt_id : s->key.prompt_id);
    const char *ph[2] = {p->left.present ? p->left.key.phase : NULL, p->right.present ? p->right.key.phase : NULL};
    if (ph[0] && ph[1] && ph[0] != ph[1])
        snprintf(buf, sizeof buf, "%s,%s", ph[0], ph[1]);
    else
        snprintf(buf, sizeof buf, "%s", ph[0] ? ph[0] : ph[1] ? ph[1] : "");
    d->plan.phases = diff_intern(d, buf);
    if (!d->plan.points || !d->plan.layers || !d->plan.prompts || !d->plan.phases) {
        free(pts);
        return diff_err(d, TT_E_NOMEM, "out of memory");
    }
    /* what the plan selects of the left side's records (units that are whole records) */
    for (size_t i = 0; i < d->nunits[0]; i++) {
        const dunit *u = &d->units[0][i];
        if (u->split || u->s.nshards)
            continue;
        d->plan.records_total++;
        const tt_key *k = &u->s.key;
        int layer_ok = k->layer < 0 || (k->layer >= lo && k->layer <= hi);
        int phase_ok = k->phase == ph[0] || k->phase == ph[1];
        if (layer_ok && phase_ok && k->prompt_id == d->plan.prompts && has_ptr(pts, npts, k->point)) {
            d->plan.records_selected++;
            d->plan.bytes_selected += u->rec_nbytes;
        }
        d->plan.bytes_total += u->rec_nbytes;
    }
    free(pts);
    d->plan.pair = f->pair;
    d->plan.layer_lo = lo;
    d->plan.layer_hi = hi;
    return TT_OK;
}

int tt_diff_plan_get(const tt_diff *d, tt_diff_plan *out)
{
    if (!d || !out || d->failed)
        return TT_E_INVAL;
    *out = d->plan;
    return TT_OK;
}
