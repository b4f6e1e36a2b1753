/*
 * analysis.c — the facts every output shares (analysis.h): the layer x stage grid, the first failure's pieces,
 * the worst pairs, jumps, hash and KV tallies, and the comparison of two grids.
 */
#include "analysis.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rp_severity(rp_verdict v)
{
    switch (v) {
    case RP_MATCH: return 0;
    case RP_WITHIN_TOL: return 1;
    case RP_MISSING: return 2;
    default: return 3;
    }
}

int rp_failing(rp_verdict v)
{
    return v == RP_MISMATCH || v == RP_MISSING;
}

const char *rp_row_label(const rp_row *row, char *buf, size_t len)
{
    if (row->kind == RP_ROW_LAYER)
        snprintf(buf, len, "L%d", (int)row->layer);
    else
        snprintf(buf, len, "%s", row->kind == RP_ROW_PRE ? "pre" : "post");
    return buf;
}

const rp_pair *rp_find_pair(const rp_result *r, uint64_t group, int32_t layer, const char *point)
{
    for (size_t i = 0; i < r->npairs; i++) {
        const rp_pair *p = &r->pairs[i];
        if (p->group == group && p->layer == layer && strcmp(p->point, point) == 0)
            return p;
    }
    return NULL;
}

int rp_has_point(const rp_result *r, const char *point)
{
    for (size_t i = 0; i < r->npairs; i++)
        if (strcmp(r->pairs[i].point, point) == 0)
            return 1;
    return 0;
}

/* a > b for "worse" relative errors: NAN loses against any number */
static int rel_worse(double a, double b)
{
    if (isnan(a))
        return 0;
    return isnan(b) || a > b;
}

const rp_pair *rp_worst_at(const rp_result *r, int32_t layer, const char *point)
{
    const rp_pair *best = NULL;
    for (size_t i = 0; i < r->npairs; i++) {
        const rp_pair *p = &r->pairs[i];
        if (p->layer != layer || strcmp(p->point, point) != 0)
            continue;
        if (!best || rel_worse(rp_pair_rel(p), rp_pair_rel(best)))
            best = p;
    }
    return best;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

typedef struct col_tmp {
    const char *name;
    int32_t rank;
    size_t first; /* first pair seen: ties of rank keep capture order */
} col_tmp;

static int cmp_col(const void *a, const void *b)
{
    const col_tmp *x = a, *y = b;
    if (x->rank != y->rank)
        return (x->rank > y->rank) - (x->rank < y->rank);
    return (x->first > y->first) - (x->first < y->first);
}

static int64_t find_col(const col_tmp *cols, size_t n, const char *name, int64_t hint)
{
    if (hint >= 0 && (size_t)hint < n && strcmp(cols[hint].name, name) == 0)
        return hint;
    for (size_t i = 0; i < n; i++)
        if (strcmp(cols[i].name, name) == 0)
            return (int64_t)i;
    return -1;
}

static int64_t find_layer(const int32_t *layers, size_t n, int32_t layer)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (layers[mid] < layer)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && layers[lo] == layer ? (int64_t)lo : -1;
}

/* Builds the grid; pair_row/pair_col receive each pair's cell. */
static int build_grid(rp_grid *g, const rp_result *r, rp_arena *a, uint32_t *pair_row, uint32_t *pair_col)
{
    memset(g, 0, sizeof *g);
    g->ff_row = g->ff_col = -1;
    g->min_rel = g->max_rel = NAN;
    size_t np = r->npairs;
    col_tmp *cols = malloc((np ? np : 1) * sizeof *cols);
    int32_t *layers = malloc((np ? np : 1) * sizeof *layers);
    if (!cols || !layers) {
        free(cols);
        free(layers);
        return -1;
    }
    size_t ncols = 0, nlayers = 0;
    int32_t min_in_rank = INT32_MAX;
    int64_t hint = -1;
    for (size_t i = 0; i < np; i++) {
        const rp_pair *p = &r->pairs[i];
        hint = find_col(cols, ncols, p->point, hint);
        if (hint < 0) {
            cols[ncols] = (col_tmp){p->point, p->stage_rank, i};
            hint = (int64_t)ncols++;
        }
        if (p->layer >= 0) {
            layers[nlayers++] = p->layer;
            if (p->stage_rank < min_in_rank)
                min_in_rank = p->stage_rank;
        }
    }
    qsort(cols, ncols, sizeof *cols, cmp_col);
    qsort(layers, nlayers, sizeof *layers, cmp_i32);
    size_t u = 0;
    for (size_t i = 0; i < nlayers; i++)
        if (u == 0 || layers[u - 1] != layers[i])
            layers[u++] = layers[i];
    nlayers = u;
    int has_pre = 0, has_post = 0;
    for (size_t i = 0; i < np; i++) {
        const rp_pair *p = &r->pairs[i];
        if (p->layer < 0) {
            if (nlayers == 0 || p->stage_rank < min_in_rank)
                has_pre = 1;
            else
                has_post = 1;
        }
    }
    g->ncols = ncols;
    g->nrows = nlayers + (size_t)has_pre + (size_t)has_post;
    g->rows = rp_arena_alloc(a, g->nrows ? g->nrows : 1, sizeof *g->rows);
    g->stages = rp_arena_alloc(a, ncols ? ncols : 1, sizeof *g->stages);
    g->ranks = rp_arena_alloc(a, ncols ? ncols : 1, sizeof *g->ranks);
    size_t ncells = g->nrows * ncols;
    g->cells = rp_arena_alloc(a, ncells ? ncells : 1, sizeof *g->cells);
    if (!g->rows || !g->stages || !g->ranks || !g->cells) {
        free(cols);
        free(layers);
        return -1;
    }
    size_t ri = 0;
    if (has_pre)
        g->rows[ri++] = (rp_row){RP_ROW_PRE, -1};
    for (size_t i = 0; i < nlayers; i++)
        g->rows[ri++] = (rp_row){RP_ROW_LAYER, layers[i]};
    if (has_post)
        g->rows[ri++] = (rp_row){RP_ROW_POST, -1};
    for (size_t c = 0; c < ncols; c++) {
        g->stages[c] = cols[c].name;
        g->ranks[c] = cols[c].rank;
    }
    int64_t *fallback = malloc((ncells ? ncells : 1) * sizeof *fallback);
    if (!fallback) {
        free(cols);
        free(layers);
        return -1;
    }
    for (size_t k = 0; k < g->nrows * ncols; k++) {
        fallback[k] = -1;
        g->cells[k].worst_rel = NAN;
        g->cells[k].worst_max_abs = NAN;
        g->cells[k].worst_pair = -1;
    }
    hint = -1;
    for (size_t i = 0; i < np; i++) {
        const rp_pair *p = &r->pairs[i];
        size_t row;
        if (p->layer >= 0)
            row = (size_t)has_pre + (size_t)find_layer(layers, nlayers, p->layer);
        else if (nlayers == 0 || p->stage_rank < min_in_rank)
            row = 0;
        else
            row = g->nrows - 1;
        hint = find_col(cols, ncols, p->point, hint);
        size_t col = (size_t)hint;
        pair_row[i] = (uint32_t)row;
        pair_col[i] = (uint32_t)col;
        rp_cell *c = &g->cells[row * ncols + col];
        c->npairs++;
        c->n[p->verdict & 3]++;
        if (p->has_jump)
            c->jumps++;
        double rel = rp_pair_rel(p);
        int sev = rp_severity(p->verdict);
        if (c->npairs == 1 || sev > rp_severity(c->verdict)) {
            c->verdict = p->verdict;
            fallback[row * ncols + col] = (int64_t)i; /* the first pair with the worst verdict */
        }
        if (rel_worse(rel, c->worst_rel)) {
            c->worst_rel = rel;
            c->worst_pair = (int64_t)i;
            c->worst_max_abs = p->m.max_abs;
        }
    }
    for (size_t k = 0; k < g->nrows * ncols; k++) {
        rp_cell *c = &g->cells[k];
        if (c->npairs && c->worst_pair < 0) /* nothing measured */
            c->worst_pair = fallback[k];
        if (!isnan(c->worst_rel)) {
            if (c->worst_rel > 0 && isfinite(c->worst_rel) && (isnan(g->min_rel) || c->worst_rel < g->min_rel))
                g->min_rel = c->worst_rel;
            if (isfinite(c->worst_rel) && (isnan(g->max_rel) || c->worst_rel > g->max_rel))
                g->max_rel = c->worst_rel;
        }
    }
    free(fallback);
    free(cols);
    free(layers);
    return 0;
}

static void tally(rp_kv_tally *t, const rp_kvcheck *k)
{
    if (k->result == 1)
        t->pass++;
    else if (k->result == 0) {
        t->fail++;
        if (!t->first_fail || k->layer < t->first_fail->layer)
            t->first_fail = k;
    } else
        t->na++;
    t->rows += k->rows_checked;
    t->bad_rows += k->bad_rows;
}

static const char *first_present(const rp_result *r, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rp_has_point(r, names[i]))
            return names[i];
    return NULL;
}

int rp_facts_build(rp_facts *f, const rp_result *r)
{
    memset(f, 0, sizeof *f);
    f->r = r;
    f->worst_pair = f->worst_ok_pair = f->ff_jump = f->first_jump = -1;
    f->first_layer = -1;
    uint32_t *prow = malloc((r->npairs ? r->npairs : 1) * sizeof *prow);
    uint32_t *pcol = malloc((r->npairs ? r->npairs : 1) * sizeof *pcol);
    if (!prow || !pcol || build_grid(&f->g, r, r->arena, prow, pcol) != 0) {
        free(prow);
        free(pcol);
        return -1;
    }
    rp_grid *g = &f->g;
    if (r->ff.present) {
        f->ffp = r->ff.pair >= 0 ? &r->pairs[r->ff.pair] : NULL;
        f->ffk = r->ff.kv_check >= 0 ? &r->kv[r->ff.kv_check] : NULL;
        f->ffg = r->ff.group < r->ngroups ? &r->groups[r->ff.group] : NULL;
        if (f->ffp) {
            g->ff_row = prow[r->ff.pair];
            g->ff_col = pcol[r->ff.pair];
        } else { /* a KV check failure: its layer and point, when a cell holds them */
            for (size_t i = 0; i < r->npairs; i++)
                if (r->pairs[i].layer == r->ff.layer && strcmp(r->pairs[i].point, r->ff.point) == 0) {
                    g->ff_row = prow[i];
                    g->ff_col = pcol[i];
                    break;
                }
        }
        if (g->ff_row >= 0)
            g->cells[(size_t)g->ff_row * g->ncols + (size_t)g->ff_col].first_failure = 1;
    }
    for (size_t i = 0; i < r->nchain; i++)
        g->cells[prow[r->chain[i]] * g->ncols + pcol[r->chain[i]]].in_chain = 1;
    uint64_t best_jump_key = UINT64_MAX;
    for (size_t i = 0; i < r->npairs; i++) {
        const rp_pair *p = &r->pairs[i];
        double rel = rp_pair_rel(p);
        if (!isnan(rel) && (f->worst_pair < 0 || rel_worse(rel, rp_pair_rel(&r->pairs[f->worst_pair]))))
            f->worst_pair = (int64_t)i;
        if (!rp_failing(p->verdict) && !isnan(rel) &&
            (f->worst_ok_pair < 0 || rel_worse(rel, rp_pair_rel(&r->pairs[f->worst_ok_pair]))))
            f->worst_ok_pair = (int64_t)i;
        if (p->left.has_hash && p->right.has_hash) {
            f->hash_pairs++;
            if (strcmp(p->left.hash, p->right.hash) != 0)
                f->hash_differ++;
        }
        if (rp_failing(p->numeric_verdict))
            f->numeric_fail++;
        if (p->has_jump) {
            uint64_t key = ((uint64_t)prow[i] << 40) | ((uint64_t)pcol[i] << 20) | (p->group & 0xFFFFF);
            if (key < best_jump_key) {
                best_jump_key = key;
                f->first_jump = (int64_t)i;
            }
        }
        if (p->layer >= 0 && (f->first_layer < 0 || p->layer < f->first_layer))
            f->first_layer = p->layer;
    }
    if (f->ffp && f->ffp->has_jump)
        f->ff_jump = r->ff.pair;
    else if (g->ff_row >= 0)
        for (size_t i = 0; i < r->npairs; i++)
            if (r->pairs[i].has_jump && prow[i] == (uint32_t)g->ff_row && pcol[i] == (uint32_t)g->ff_col) {
                f->ff_jump = (int64_t)i;
                break;
            }
    for (size_t i = 0; i < r->nkv; i++) {
        const rp_kvcheck *k = &r->kv[i];
        tally(&f->kv[k->kind], k);
        if (k->kind == RP_KV_PREFIX && k->point) {
            if (k->point[0] == 'k' || k->point[0] == 'K')
                tally(&f->kv_prefix_k, k);
            else if (k->point[0] == 'v' || k->point[0] == 'V')
                tally(&f->kv_prefix_v, k);
        }
    }
    static const char *const q[] = {"q_pre_rope", "q_proj", "q"}, *const k[] = {"k_pre_rope", "k_proj", "k"},
                             *const v[] = {"v", "v_proj", "v_pre_rope"}, *const qr[] = {"q_post_rope", "q_rope"},
                             *const kr[] = {"k_post_rope", "k_rope"}, *const sc[] = {"attn_scores", "scores"},
                             *const pr[] = {"attn_probs", "probs", "softmax_out"};
    f->q_point = first_present(r, q, 3);
    f->k_point = first_present(r, k, 3);
    f->v_point = first_present(r, v, 3);
    f->q_rope_point = first_present(r, qr, 2);
    f->k_rope_point = first_present(r, kr, 2);
    f->scores_point = first_present(r, sc, 2);
    f->probs_point = first_present(r, pr, 3);
    free(prow);
    free(pcol);
    return 0;
}

void rp_scale(const rp_grid *a, const rp_grid *b, int *lo, int *hi)
{
    double mn = a->min_rel, mx = a->max_rel;
    if (b) {
        if (!isnan(b->min_rel) && (isnan(mn) || b->min_rel < mn))
            mn = b->min_rel;
        if (!isnan(b->max_rel) && (isnan(mx) || b->max_rel > mx))
            mx = b->max_rel;
    }
    if (isnan(mn) || isnan(mx) || !(mx > 0)) {
        *lo = -8;
        *hi = 0;
        return;
    }
    int l = (int)floor(log10(mn)), h = (int)ceil(log10(mx));
    if (l < -16)
        l = -16;
    if (h > 6)
        h = 6;
    if (h <= l)
        h = l + 1;
    if (h - l < 3)
        l = h - 3;
    *lo = l;
    *hi = h;
}

const char *rp_change_name(rp_change c)
{
    static const char *const n[] = {"unchanged (pass)", "fixed", "new failure", "still failing", "only before",
                                    "only after"};
    return (unsigned)c < 6 ? n[c] : "?";
}

const char *rp_change_key(rp_change c)
{
    static const char *const n[] = {"unchanged", "fixed", "new", "still_failing", "only_before", "only_after"};
    return (unsigned)c < 6 ? n[c] : "?";
}

static int cmp_rows(const void *x, const void *y)
{
    const rp_cmp_row *a = x, *b = y;
    if (a->kind != b->kind)
        return (a->kind > b->kind) - (a->kind < b->kind);
    if (a->layer != b->layer)
        return (a->layer > b->layer) - (a->layer < b->layer);
    if (a->rank != b->rank)
        return (a->rank > b->rank) - (a->rank < b->rank);
    return strcmp(a->stage, b->stage);
}

int rp_compare(rp_cmp *c, const rp_facts *before, const rp_facts *after, rp_arena *a)
{
    memset(c, 0, sizeof *c);
    const rp_grid *gb = &before->g, *ga = &after->g;
    size_t cap = gb->nrows * gb->ncols + ga->nrows * ga->ncols;
    c->rows = rp_arena_alloc(a, cap ? cap : 1, sizeof *c->rows);
    if (!c->rows)
        return -1;
    for (int side = 0; side < 2; side++) {
        const rp_grid *g = side ? ga : gb;
        for (size_t r = 0; r < g->nrows; r++)
            for (size_t k = 0; k < g->ncols; k++) {
                const rp_cell *cell = rp_cell_at(g, r, k);
                if (!cell->npairs)
                    continue;
                rp_cmp_row *row = NULL;
                for (size_t i = 0; side && i < c->n; i++)
                    if (c->rows[i].kind == g->rows[r].kind && c->rows[i].layer == g->rows[r].layer &&
                        strcmp(c->rows[i].stage, g->stages[k]) == 0) {
                        row = &c->rows[i];
                        break;
                    }
                if (!row) {
                    row = &c->rows[c->n++];
                    row->kind = g->rows[r].kind;
                    row->layer = g->rows[r].layer;
                    row->stage = g->stages[k];
                    row->rank = g->ranks[k];
                }
                if (side)
                    row->after = cell;
                else
                    row->before = cell;
            }
    }
    qsort(c->rows, c->n, sizeof *c->rows, cmp_rows);
    for (size_t i = 0; i < c->n; i++) {
        rp_cmp_row *row = &c->rows[i];
        if (!row->after)
            row->change = RP_CH_ONLY_BEFORE;
        else if (!row->before)
            row->change = RP_CH_ONLY_AFTER;
        else {
            int fb = rp_failing(row->before->verdict), fa = rp_failing(row->after->verdict);
            row->change = fb && fa ? RP_CH_STILL : fb ? RP_CH_FIXED : fa ? RP_CH_NEW : RP_CH_UNCHANGED_OK;
        }
        c->count[row->change]++;
    }
    return 0;
}
