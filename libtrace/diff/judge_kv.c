/*
 * judge_kv.c — part of step 3 of the diff pipeline (judge): the KV-cache consistency checks of kv_aligned mode (see tt_diff_kv_kind in tt/diff.h):
 *   cache_prefix  rows of k_cache/v_cache that prefill wrote on both sides must be bitwise equal (the cache only
 *                 stores them; a same engine's prefill kernel is deterministic), rows decode steps wrote are held
 *                 to the pair's tolerance;
 *   cache_write   on each side, the cache rows at the positions of the step's own K (k_post_rope) / V (v) record
 *                 must equal that record bitwise: what the step computed is what the attention reads;
 *   causal        an attn_probs row at position p puts no weight on keys past p.
 * A failure marks the cache / attn_probs pair MISMATCH (TT_DIFF_PAIR_KV_FAIL); a causal violation in rows no
 * pair covers (a full prefill against one decode step) is a failure candidate of its own. Runs single-threaded
 * after the comparison: the tensors involved are a small part of a trace.
 */
#include "judge.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

typedef struct kvctx {
    tt_diff *d;
    tt_reader *r[2];
    uint8_t *buf[2];
    size_t cap[2];
    double *row;
    size_t row_cap;
} kvctx;

static int add_check(tt_diff *d, const tt_diff_kv_check *k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int add_check(tt_diff *d, const tt_diff_kv_check *k, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (tt_grow((void **)&d->kv, &d->kv_cap, d->nkv + 1, sizeof *d->kv) != TT_OK)
        return diff_err(d, TT_E_NOMEM, "out of memory");
    d->kv[d->nkv] = *k;
    if (!(d->kv[d->nkv].text = diff_intern(d, buf)))
        return diff_err(d, TT_E_NOMEM, "out of memory");
    d->nkv++;
    if (k->passed == 0 && k->pair >= 0) {
        tt_diff_pair *p = &d->pairs[k->pair];
        p->flags |= TT_DIFF_PAIR_KV_FAIL;
        if (p->verdict != TT_DIFF_MISSING)
            p->verdict = TT_DIFF_MISMATCH;
    }
    return TT_OK;
}

static uint64_t nbytes_of(const tt_diff_side *s)
{
    uint64_t e, nb;
    return tt_shape_elems(s->ndim, s->shape, tt_dtype_size(s->dtype), &e, &nb) == TT_OK ? nb : 0;
}

static int has_payload(const tt_diff_side *s)
{
    return s->present && (s->flags & TT_REC_HAS_PAYLOAD) && !(s->flags & TT_REC_LOST) && tt_dtype_size(s->dtype);
}

static tt_reader *reader_of(kvctx *c, int side)
{
    return side && !c->d->same_file ? c->r[1] : c->r[0];
}

/* Max |a - b| over n elements of dtype dt. */
static double max_abs_diff(kvctx *c, tt_dtype dt, const uint8_t *a, const uint8_t *b, size_t n)
{
    if (tt_grow((void **)&c->row, &c->row_cap, 2 * n + 2, sizeof(double)) != TT_OK)
        return NAN;
    tt_to_f64(dt, a, n, c->row);
    tt_to_f64(dt, b, n, c->row + n);
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = fabs(c->row[i] - c->row[n + i]);
        if (x > m || isnan(x))
            m = isnan(x) ? INFINITY : x;
    }
    return m;
}

static int32_t step_of(const tt_diff_side *s)
{
    return s->key.step > 0 ? s->key.step : 0;
}

static int check_prefix(kvctx *c, size_t pi)
{
    tt_diff *d = c->d;
    const tt_diff_pair *p = &d->pairs[pi];
    tt_diff_kv_check k;
    memset(&k, 0, sizeof k);
    k.kind = TT_DIFF_KV_PREFIX;
    k.side = 2;
    k.pair = (int64_t)pi;
    k.group = p->group;
    k.prompt_id = p->left.key.prompt_id;
    k.point = p->point;
    k.layer = p->layer;
    k.first_bad_row = k.first_bad_col = -1;
    const tt_diff_side *l = &p->left, *r = &p->right;
    if (!has_payload(l) || !has_payload(r) || l->ndim < 1 || r->ndim < 1) {
        k.passed = -1;
        return add_check(d, &k, "%s layer %d: no tensors on both sides, not checked", p->point, p->layer);
    }
    uint64_t lrb = nbytes_of(l) / (l->shape[0] ? l->shape[0] : 1), rrb = nbytes_of(r) / (r->shape[0] ? r->shape[0] : 1);
    if (l->dtype != r->dtype || lrb != rrb || !lrb) {
        k.passed = -1;
        return add_check(d, &k, "%s layer %d: the sides store different dtypes or row sizes (%s, %s): not checked",
                         p->point, p->layer, tt_dtype_name(l->dtype), tt_dtype_name(r->dtype));
    }
    uint64_t rows = l->row_count < r->row_count ? l->row_count : r->row_count;
    int32_t st = step_of(l) > step_of(r) ? step_of(l) : step_of(r);
    uint64_t dec = (uint64_t)st > rows ? rows : (uint64_t)st;
    char err[256];
    int rc;
    if ((rc = diff_read_rows(reader_of(c, 0), l, l->row_begin, rows, &c->buf[0], &c->cap[0], err, sizeof err)) != TT_OK ||
        (rc = diff_read_rows(reader_of(c, 1), r, r->row_begin, rows, &c->buf[1], &c->cap[1], err, sizeof err)) != TT_OK) {
        if (rc == TT_E_NOMEM)
            return diff_err(d, rc, "out of memory");
        k.passed = -1;
        return add_check(d, &k, "%s layer %d: cannot read: %s", p->point, p->layer, err);
    }
    size_t es = tt_dtype_size(l->dtype), per = (size_t)(lrb / es);
    uint64_t bad_exact = 0, bad_tol = 0;
    for (uint64_t i = 0; i < rows; i++) {
        const uint8_t *a = c->buf[0] + i * lrb, *b = c->buf[1] + i * lrb;
        int bad;
        double m = 0;
        if (i < rows - dec) {
            bad = memcmp(a, b, (size_t)lrb) != 0;
            if (bad)
                m = max_abs_diff(c, l->dtype, a, b, per);
            bad_exact += bad;
        } else {
            cmp_acc acc;
            tt_diff_metrics mm;
            memset(&mm, 0, sizeof mm);
            cmp_acc_init(&acc, 1);
            cmp_block(&acc, l->dtype, a, r->dtype, b, per, 0, p->m.rtol, p->m.atol);
            cmp_finish(&acc, &mm);
            bad = mm.outside_tol || mm.nan_mismatch || mm.inf_mismatch;
            m = mm.max_abs;
            bad_tol += bad;
        }
        if (bad) {
            k.bad_rows++;
            if (k.first_bad_row < 0) {
                k.first_bad_row = (int64_t)(l->key.pos_id >= 0 ? (uint64_t)l->key.pos_id : 0) + (int64_t)(l->row_begin + i);
                for (size_t e = 0; e < per; e++)
                    if (memcmp(a + e * es, b + e * es, es) != 0) {
                        k.first_bad_col = (int64_t)e;
                        break;
                    }
            }
            k.max_abs = m > k.max_abs || isnan(m) ? m : k.max_abs;
        }
    }
    k.rows_checked = rows;
    k.passed = k.bad_rows == 0;
    if (k.passed)
        return add_check(d, &k, "%s layer %d (%s): rows 0..%llu written by prefill are bitwise equal on both sides"
                         "%s", p->point, p->layer, k.prompt_id, (unsigned long long)(rows - dec - (rows > dec)),
                         dec ? "; the rows decode wrote are within tolerance" : "");
    return add_check(d, &k, "%s layer %d (%s): %llu of %llu prefill rows differ bitwise, %llu of %llu decode rows "
                     "exceed the tolerance; first bad position %lld, max |diff| %.3g: the cache does not hold what "
                     "prefill wrote", p->point, p->layer, k.prompt_id, (unsigned long long)bad_exact,
                     (unsigned long long)(rows - dec), (unsigned long long)bad_tol, (unsigned long long)dec,
                     (long long)k.first_bad_row, k.max_abs);
}

/* The whole unit on `side` at point kp with the same prompt, phase, layer and token as the cache record. */
static const dunit *find_source(const tt_diff *d, int side, const tt_diff_side *cache, const char *kp)
{
    for (size_t i = 0; i < d->nunits[side]; i++) {
        const dunit *u = &d->units[side][i];
        if (u->split || u->s.key.point != kp || u->s.key.layer != cache->key.layer ||
            u->s.key.prompt_id != cache->key.prompt_id || u->s.key.phase != cache->key.phase ||
            u->s.key.step != cache->key.step)
            continue;
        if (cache->key.logical_tok_idx != TT_UNSET && u->s.key.logical_tok_idx != TT_UNSET &&
            u->s.key.logical_tok_idx + (u->s.ndim ? (int32_t)u->s.shape[0] - 1 : 0) != cache->key.logical_tok_idx)
            continue;
        return u;
    }
    return NULL;
}

static int check_write(kvctx *c, size_t pi, int side)
{
    tt_diff *d = c->d;
    const tt_diff_pair *p = &d->pairs[pi];
    const tt_diff_side *cs = side ? &p->right : &p->left;
    if (!has_payload(cs) || cs->ndim != 2)
        return TT_OK;
    const char *kp = diff_intern(d, p->point[0] == 'k' ? "k_post_rope" : "v");
    if (!kp)
        return diff_err(d, TT_E_NOMEM, "out of memory");
    const dunit *src = find_source(d, side, cs, kp);
    tt_diff_kv_check k;
    memset(&k, 0, sizeof k);
    k.kind = TT_DIFF_KV_WRITE;
    k.side = side;
    k.pair = (int64_t)pi;
    k.group = p->group;
    k.prompt_id = cs->key.prompt_id;
    k.point = p->point;
    k.layer = p->layer;
    k.first_bad_row = k.first_bad_col = -1;
    if (!src || !has_payload(&src->s) || src->s.ndim < 1 || src->s.dtype != cs->dtype || src->s.key.pos_id < 0) {
        k.passed = -1;
        return add_check(d, &k, "%s layer %d (%s side): no %s record of the same step with the same dtype: not checked",
                         p->point, p->layer, side ? "right" : "left", kp);
    }
    uint64_t srows = src->s.shape[0], sbytes = nbytes_of(&src->s), crb = nbytes_of(cs) / cs->shape[0];
    uint64_t pos0 = (uint64_t)src->s.key.pos_id - (cs->key.pos_id > 0 ? (uint64_t)cs->key.pos_id : 0);
    if (!srows || sbytes / srows != crb || pos0 + srows > cs->shape[0]) {
        k.passed = -1;
        return add_check(d, &k, "%s layer %d (%s side): %s rows at position %d do not fit the cache's %llu rows of "
                         "%llu bytes: not checked", p->point, p->layer, side ? "right" : "left", kp,
                         src->s.key.pos_id, (unsigned long long)cs->shape[0], (unsigned long long)crb);
    }
    char err[256];
    int rc;
    tt_reader *r = reader_of(c, side);
    if ((rc = diff_read_rows(r, cs, pos0, srows, &c->buf[0], &c->cap[0], err, sizeof err)) != TT_OK ||
        (rc = diff_read_rows(r, &src->s, 0, srows, &c->buf[1], &c->cap[1], err, sizeof err)) != TT_OK) {
        if (rc == TT_E_NOMEM)
            return diff_err(d, rc, "out of memory");
        k.passed = -1;
        return add_check(d, &k, "%s layer %d: cannot read: %s", p->point, p->layer, err);
    }
    size_t es = tt_dtype_size(cs->dtype);
    for (uint64_t i = 0; i < srows; i++) {
        const uint8_t *a = c->buf[0] + i * crb, *b = c->buf[1] + i * crb;
        if (memcmp(a, b, (size_t)crb) == 0)
            continue;
        k.bad_rows++;
        double m = max_abs_diff(c, cs->dtype, a, b, (size_t)(crb / es));
        k.max_abs = m > k.max_abs || isnan(m) ? m : k.max_abs;
        if (k.first_bad_row < 0)
            k.first_bad_row = (int64_t)(src->s.key.pos_id + (int32_t)i);
    }
    k.rows_checked = srows;
    k.passed = k.bad_rows == 0;
    if (k.passed)
        return add_check(d, &k, "%s layer %d (%s side, %s): the cache rows at positions %d..%d hold the step's %s "
                         "bitwise", p->point, p->layer, side ? "right" : "left", cs->key.phase, src->s.key.pos_id,
                         src->s.key.pos_id + (int32_t)srows - 1, kp);
    return add_check(d, &k, "%s layer %d (%s side, %s): %llu of %llu cache rows at the step's positions differ from "
                     "its %s (first at position %lld, max |diff| %.3g): the step's K/V is not where the attention "
                     "reads it", p->point, p->layer, side ? "right" : "left", cs->key.phase,
                     (unsigned long long)k.bad_rows, (unsigned long long)srows, kp, (long long)k.first_bad_row,
                     k.max_abs);
}

static uint32_t group_of_prompt(const tt_diff *d, const char *prompt)
{
    for (uint32_t g = 0; g < d->ngroups; g++)
        if (d->groups[g].prompt_id == prompt)
            return g;
    return 0;
}

static int check_causal(kvctx *c, int side, const dunit *u)
{
    tt_diff *d = c->d;
    const tt_diff_side *s = &u->s;
    if (!has_payload(s) || s->ndim != 3 || s->key.pos_id < 0 || !tt_dtype_is_float(s->dtype))
        return TT_OK;
    uint64_t rows = s->shape[0], heads = s->shape[1], kv = s->shape[2];
    if (!rows || !heads || !kv)
        return TT_OK;
    /* rows whose position leaves keys after it: nothing to check otherwise */
    if ((uint64_t)s->key.pos_id + 1 >= kv)
        return TT_OK;
    char err[256];
    int rc = diff_read_rows(reader_of(c, side), s, 0, rows, &c->buf[0], &c->cap[0], err, sizeof err);
    tt_diff_kv_check k;
    memset(&k, 0, sizeof k);
    k.kind = TT_DIFF_KV_CAUSAL;
    k.side = side;
    k.pair = -1;
    k.prompt_id = s->key.prompt_id;
    k.point = s->key.point;
    k.layer = s->key.layer;
    k.first_bad_row = k.first_bad_col = -1;
    int64_t bad_row_index = -1;
    if (rc != TT_OK) {
        if (rc == TT_E_NOMEM)
            return diff_err(d, rc, "out of memory");
        k.passed = -1;
        k.group = group_of_prompt(d, k.prompt_id);
        return add_check(d, &k, "%s layer %d: cannot read: %s", k.point, k.layer, err);
    }
    size_t es = tt_dtype_size(s->dtype);
    uint64_t per_row = heads * kv;
    if (tt_grow((void **)&c->row, &c->row_cap, (size_t)per_row, sizeof(double)) != TT_OK)
        return diff_err(d, TT_E_NOMEM, "out of memory");
    for (uint64_t i = 0; i < rows; i++) {
        uint64_t pos = (uint64_t)s->key.pos_id + i;
        if (pos + 1 >= kv)
            break;
        tt_to_f64(s->dtype, c->buf[0] + i * per_row * es, (size_t)per_row, c->row);
        int bad = 0;
        for (uint64_t h = 0; h < heads; h++)
            for (uint64_t j = pos + 1; j < kv; j++) {
                double v = c->row[h * kv + j];
                if (v != 0 || isnan(v)) {
                    double a = isnan(v) ? INFINITY : fabs(v);
                    if (!bad && k.first_bad_row < 0) {
                        k.first_bad_row = (int64_t)pos;
                        k.first_bad_col = (int64_t)(h * kv + j);
                        bad_row_index = (int64_t)i;
                    }
                    bad = 1;
                    k.max_abs = a > k.max_abs ? a : k.max_abs;
                }
            }
        k.bad_rows += (uint64_t)bad;
        k.rows_checked++;
    }
    k.passed = k.bad_rows == 0;
    /* attach to the pair holding the first bad row (or the record), if there is one */
    k.group = group_of_prompt(d, k.prompt_id);
    for (size_t i = 0; i < d->npairs; i++) {
        const tt_diff_pair *p = &d->pairs[i];
        const tt_diff_side *ps = side ? &p->right : &p->left;
        if (!ps->present || ps->record != s->record)
            continue;
        if (bad_row_index >= 0 && !(ps->row_begin <= (uint64_t)bad_row_index &&
                                    (uint64_t)bad_row_index < ps->row_begin + ps->row_count))
            continue;
        k.pair = (int64_t)i;
        k.group = p->group;
        break;
    }
    if (k.passed)
        return add_check(d, &k, "%s layer %d (%s side, %s, positions %d..%llu): no weight past each row's position",
                         k.point, k.layer, side ? "right" : "left", s->key.phase, s->key.pos_id,
                         (unsigned long long)(s->key.pos_id + rows - 1));
    return add_check(d, &k, "%s layer %d (%s side, %s): %llu of %llu rows put weight on keys past their position "
                     "(first: position %lld, head %lld, key %lld, probability %.3g): the causal mask leaks", k.point,
                     k.layer, side ? "right" : "left", s->key.phase, (unsigned long long)k.bad_rows,
                     (unsigned long long)k.rows_checked, (long long)k.first_bad_row,
                     (long long)(k.first_bad_col / (int64_t)kv), (long long)(k.first_bad_col % (int64_t)kv), k.max_abs);
}

int diff_kv_checks(tt_diff *d)
{
    kvctx c;
    memset(&c, 0, sizeof c);
    c.d = d;
    int rc = diff_open_side(d, 0, &c.r[0]);
    if (rc == TT_OK && !d->same_file)
        rc = diff_open_side(d, 1, &c.r[1]);
    if (rc != TT_OK) {
        diff_err(d, rc, "%s", c.r[1] ? tt_reader_errmsg(c.r[1]) : c.r[0] ? tt_reader_errmsg(c.r[0]) : tt_strerror(rc));
        goto done;
    }
    size_t n = d->npairs;
    for (size_t i = 0; i < n && rc == TT_OK; i++) {
        const tt_diff_pair *p = &d->pairs[i];
        if (!diff_is_cache_point(d, p->point))
            continue;
        if (p->left.present && p->right.present)
            rc = check_prefix(&c, i);
        for (int s = 0; s < 2 && rc == TT_OK; s++)
            rc = check_write(&c, i, s);
    }
    const char *probs = diff_intern(d, "attn_probs");
    if (!probs)
        rc = diff_err(d, TT_E_NOMEM, "out of memory");
    for (int s = 0; s < 2 && rc == TT_OK; s++) {
        for (size_t i = 0; i < d->nunits[s] && rc == TT_OK; i++) {
            const dunit *u = &d->units[s][i];
            if (!u->split && u->s.key.point == probs)
                rc = check_causal(&c, s, u);
        }
    }
done:
    tt_reader_close(c.r[0]);
    tt_reader_close(c.r[1]);
    free(c.buf[0]);
    free(c.buf[1]);
    free(c.row);
    return rc;
}
