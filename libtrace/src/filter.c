/*
 * filter.c — record filters: conjunctions of "FIELD=V1,V2", "FIELD!=V1,V2" and integer ranges ("layer=0-3,8").
 * One parser for the tools' --where, the differ's --left/--right and tt_reader_next(), so every place accepts
 * the same syntax and gives the same errors.
 */
#define _POSIX_C_SOURCE 200809L
#include "reader_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

typedef enum field_id {
    F_PROMPT, F_PHASE, F_POINT, F_LAYER, F_STEP, F_TOKEN, F_LTI, F_POS, F_ROWS, F_RANK, F_DTYPE, F_SEQ, F_INDEX
} field_id;

static const struct {
    const char *name;
    field_id id;
    int is_int;
} fields[] = {
    {"prompt_id", F_PROMPT, 0}, {"prompt", F_PROMPT, 0}, {"phase", F_PHASE, 0}, {"point", F_POINT, 0},
    {"tensor", F_POINT, 0},     {"layer", F_LAYER, 1},   {"step", F_STEP, 1},   {"token_id", F_TOKEN, 1},
    {"logical_tok_idx", F_LTI, 1}, {"pos_id", F_POS, 1}, {"pos", F_POS, 1},     {"rows", F_ROWS, 1},
    {"seq_len", F_ROWS, 1},     {"rank", F_RANK, 1},     {"dtype", F_DTYPE, 0}, {"seq", F_SEQ, 1},
    {"index", F_INDEX, 1},
};

typedef struct condition {
    field_id field;
    int negate;
    int is_int;
    tt_range_list ints;
    tt_name_list names;
} condition;

struct tt_filter {
    condition *c;
    size_t n, cap;
};

tt_filter *tt_filter_new(void) { return calloc(1, sizeof(tt_filter)); }

void tt_filter_free(tt_filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        tt_range_list_free(&f->c[i].ints);
        tt_name_list_free(&f->c[i].names);
    }
    free(f->c);
    free(f);
}

int tt_filter_empty(const tt_filter *f) { return !f || f->n == 0; }

int tt_filter_add(tt_filter *f, const char *text, char *err, size_t errlen)
{
    if (!f || !text)
        return tt_errf(err, errlen, TT_E_INVAL, "no filter");
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return tt_errf(err, errlen, TT_E_PARSE, "filter \"%s\": expected FIELD=VALUE[,VALUE...] or FIELD!=VALUE", text);
    int negate = eq[-1] == '!';
    size_t flen = (size_t)(eq - text) - (size_t)negate;
    size_t k = 0, nf = sizeof fields / sizeof fields[0];
    while (k < nf && !(strlen(fields[k].name) == flen && strncmp(fields[k].name, text, flen) == 0))
        k++;
    if (k == nf)
        return tt_errf(err, errlen, TT_E_PARSE,
                    "filter \"%s\": unknown field \"%.*s\" (fields: prompt_id phase point layer step token_id "
                    "logical_tok_idx pos_id rows rank dtype seq index)", text, (int)flen, text);
    condition c;
    memset(&c, 0, sizeof c);
    c.field = fields[k].id;
    c.negate = negate;
    c.is_int = fields[k].is_int;
    char msg[TT_ERRMSG_SIZE];
    const char *values = eq + 1;
    int rc = c.is_int ? tt_range_list_parse(values, &c.ints, msg) : tt_name_list_parse(values, &c.names, msg);
    if (rc != TT_OK)
        return tt_errf(err, errlen, rc, "filter \"%s\": %s", text, msg);
    if (c.field == F_DTYPE) {
        for (size_t i = 0; i < c.names.n; i++) {
            tt_dtype dt;
            if (tt_dtype_from_name(c.names.names[i], &dt) != TT_OK) {
                tt_errf(err, errlen, TT_E_PARSE, "filter \"%s\": unknown dtype \"%s\"", text, c.names.names[i]);
                tt_name_list_free(&c.names);
                return TT_E_PARSE;
            }
            /* stored canonical, so aliases match */
            char *canon = tt_strdup(tt_dtype_name(dt));
            if (!canon) {
                tt_name_list_free(&c.names);
                return TT_E_NOMEM;
            }
            free(c.names.names[i]);
            c.names.names[i] = canon;
        }
    }
    if (tt_grow((void **)&f->c, &f->cap, f->n + 1, sizeof *f->c) != TT_OK) {
        tt_range_list_free(&c.ints);
        tt_name_list_free(&c.names);
        return tt_errf(err, errlen, TT_E_NOMEM, "out of memory");
    }
    f->c[f->n++] = c;
    return TT_OK;
}

static int cond_match(const condition *c, const tt_record *r)
{
    int hit;
    if (c->is_int) {
        int64_t v = 0;
        switch (c->field) {
        case F_LAYER: v = r->key.layer; break;
        case F_STEP: v = r->key.step; break;
        case F_TOKEN: v = r->key.token_id; break;
        case F_LTI: v = r->key.logical_tok_idx; break;
        case F_POS: v = r->key.pos_id; break;
        case F_ROWS: v = r->key.rows; break;
        case F_RANK: v = r->key.rank; break;
        case F_SEQ: v = (int64_t)r->seq; break;
        case F_INDEX: v = (int64_t)r->index; break;
        default: break;
        }
        hit = tt_range_list_has(&c->ints, v);
    } else {
        const char *s = "";
        switch (c->field) {
        case F_PROMPT: s = r->key.prompt_id; break;
        case F_PHASE: s = r->key.phase; break;
        case F_POINT: s = r->key.point; break;
        case F_DTYPE: s = tt_dtype_name(r->dtype); break;
        default: break;
        }
        hit = tt_name_list_has(&c->names, s ? s : "");
    }
    return c->negate ? !hit : hit;
}

int tt_filter_match(const tt_filter *f, const tt_record *rec)
{
    if (!f)
        return 1;
    for (size_t i = 0; i < f->n; i++)
        if (!cond_match(&f->c[i], rec))
            return 0;
    return 1;
}

/* Can any value in [lo, hi] satisfy a positive integer condition? */
static int range_overlaps(const tt_range_list *l, int64_t lo, int64_t hi)
{
    if (l->all)
        return 1;
    for (size_t i = 0; i < l->n; i++)
        if (l->r[i][0] <= hi && l->r[i][1] >= lo)
            return 1;
    return 0;
}

int tt__filter_may_match(const tt_filter *f, const tt_rbatch *b)
{
    if (!f || !b->has_ranges)
        return 1;
    for (size_t i = 0; i < f->n; i++) {
        const condition *c = &f->c[i];
        if (c->negate || !c->is_int)
            continue;
        if (c->field == F_LAYER && !range_overlaps(&c->ints, b->layer_min, b->layer_max))
            return 0;
        if (c->field == F_STEP && !range_overlaps(&c->ints, b->step_min, b->step_max))
            return 0;
        if (c->field == F_POS && !range_overlaps(&c->ints, b->pos_min, b->pos_max))
            return 0;
        if (c->field == F_INDEX && !range_overlaps(&c->ints, (int64_t)b->first_record,
                                                   (int64_t)(b->first_record + b->count) - 1))
            return 0;
    }
    return 1;
}
