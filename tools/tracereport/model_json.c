/*
 * model_json.c — loads a `tracediff --json` result (schemas/diff.schema.json) into the model (model.h). The file
 * is untrusted: it is size-limited, parsed by cJSON (which bounds nesting), and every field the report uses is
 * checked for presence and type, every count for range and every index (a pair, a group, a KV check) against the
 * array it points into. The first problem stops the load with a message naming the file and the JSON path of the
 * field ("pairs[4].metrics.rel_l2: expected a number or null"), never a crash or a silently wrong report.
 * Fields the schema marks optional or this tool does not use are ignored, so newer minor additions load.
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53: JSON integers above this are not exact in a double */

typedef struct jx {
    const char *file;
    char *err;
    size_t errlen;
    int failed;
    int oom;
    rp_arena *a;
} jx;

__attribute__((format(printf, 3, 4))) static void fail(jx *x, const char *where, const char *fmt, ...)
{
    if (x->failed)
        return;
    x->failed = 1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (where && *where)
        snprintf(x->err, x->errlen, "%s: %s: %s", x->file, where, msg);
    else
        snprintf(x->err, x->errlen, "%s: %s", x->file, msg);
}

static void nomem(jx *x)
{
    if (!x->failed) {
        x->oom = 1;
        fail(x, NULL, "out of memory");
    }
}

/* "where.key" into buf */
static const char *path2(char *buf, size_t len, const char *where, const char *key)
{
    size_t o = 0;
    const char *parts[3] = {where && *where ? where : "", where && *where ? "." : "", key};
    for (int i = 0; i < 3; i++)
        for (const char *s = parts[i]; *s && o + 1 < len; s++)
            buf[o++] = *s;
    buf[o] = '\0';
    return buf;
}

static const cJSON *field(jx *x, const cJSON *o, const char *key, const char *where)
{
    if (x->failed)
        return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        char p[256];
        fail(x, path2(p, sizeof p, where, key), "missing");
    }
    return v;
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsArray(v))
        return "an array";
    return "an object";
}

static const cJSON *get_obj(jx *x, const cJSON *o, const char *key, const char *where, int nullable)
{
    const cJSON *v = field(x, o, key, where);
    if (!v || (nullable && cJSON_IsNull(v)))
        return NULL;
    if (!cJSON_IsObject(v)) {
        char p[256];
        fail(x, path2(p, sizeof p, where, key), "expected an object%s, found %s", nullable ? " or null" : "",
             type_name(v));
        return NULL;
    }
    return v;
}

static const cJSON *get_arr(jx *x, const cJSON *o, const char *key, const char *where)
{
    const cJSON *v = field(x, o, key, where);
    if (v && !cJSON_IsArray(v)) {
        char p[256];
        fail(x, path2(p, sizeof p, where, key), "expected an array, found %s", type_name(v));
        return NULL;
    }
    return v;
}

static const char *str_value(jx *x, const cJSON *v, const char *where, int nullable)
{
    if (x->failed || !v)
        return NULL;
    if (nullable && cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v) || !v->valuestring) {
        fail(x, where, "expected a string%s, found %s", nullable ? " or null" : "", type_name(v));
        return NULL;
    }
    char *s = rp_arena_strdup(x->a, v->valuestring);
    if (!s)
        nomem(x);
    return s;
}

static const char *get_str(jx *x, const cJSON *o, const char *key, const char *where, int nullable)
{
    const cJSON *v = field(x, o, key, where);
    char p[256];
    return str_value(x, v, path2(p, sizeof p, where, key), nullable);
}

/* a number or null (NAN) */
static double get_num(jx *x, const cJSON *o, const char *key, const char *where)
{
    const cJSON *v = field(x, o, key, where);
    if (!v || cJSON_IsNull(v))
        return NAN;
    if (!cJSON_IsNumber(v)) {
        char p[256];
        fail(x, path2(p, sizeof p, where, key), "expected a number or null, found %s", type_name(v));
        return NAN;
    }
    return v->valuedouble;
}

static int int_value(jx *x, const cJSON *v, const char *where, double lo, double hi, double *out)
{
    if (x->failed || !v)
        return -1;
    if (!cJSON_IsNumber(v)) {
        fail(x, where, "expected an integer, found %s", type_name(v));
        return -1;
    }
    double d = v->valuedouble;
    if (!(d == floor(d)) || d < lo || d > hi) {
        fail(x, where, "%.17g is not an integer in [%.0f, %.0f]", d, lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

static int32_t get_i32(jx *x, const cJSON *o, const char *key, const char *where)
{
    char p[256];
    double d = 0;
    int_value(x, field(x, o, key, where), path2(p, sizeof p, where, key), -2147483648.0, 2147483647.0, &d);
    return (int32_t)d;
}

static uint64_t get_count(jx *x, const cJSON *o, const char *key, const char *where)
{
    char p[256];
    double d = 0;
    int_value(x, field(x, o, key, where), path2(p, sizeof p, where, key), 0, MAX_SAFE_INT, &d);
    return (uint64_t)d;
}

/* an index into an array of n (n UINT64_MAX: unbounded), or null (-1) when nullable */
static int64_t index_of(jx *x, const cJSON *o, const char *key, const char *where, uint64_t n, const char *what,
                        int nullable)
{
    const cJSON *v = field(x, o, key, where);
    if (!v || (nullable && cJSON_IsNull(v)))
        return -1;
    char p[256];
    double d = 0;
    if (int_value(x, v, path2(p, sizeof p, where, key), 0, MAX_SAFE_INT, &d) != 0)
        return -1;
    if (n != UINT64_MAX && d >= (double)n) {
        fail(x, p, "%s %.0f out of range (%llu %ss)", what, d, (unsigned long long)n, what);
        return -1;
    }
    return (int64_t)d;
}

static int64_t get_index(jx *x, const cJSON *o, const char *key, const char *where, uint64_t n, const char *what)
{
    return index_of(x, o, key, where, n, what, 1);
}

/* a required index: always in [0, n) when the load has not failed */
static uint64_t get_ref(jx *x, const cJSON *o, const char *key, const char *where, uint64_t n, const char *what)
{
    int64_t i = index_of(x, o, key, where, n, what, 0);
    return i < 0 ? 0 : (uint64_t)i;
}

static int get_bool(jx *x, const cJSON *o, const char *key, const char *where)
{
    const cJSON *v = field(x, o, key, where);
    if (v && !cJSON_IsBool(v)) {
        char p[256];
        fail(x, path2(p, sizeof p, where, key), "expected true or false, found %s", type_name(v));
        return 0;
    }
    return v && cJSON_IsTrue(v);
}

/* the enum index of a string among names, or fail */
static int get_enum(jx *x, const cJSON *o, const char *key, const char *where, const char *const *names, int n)
{
    const cJSON *v = field(x, o, key, where);
    if (!v || x->failed)
        return 0;
    char p[256];
    path2(p, sizeof p, where, key);
    if (cJSON_IsString(v) && v->valuestring)
        for (int i = 0; i < n; i++)
            if (strcmp(v->valuestring, names[i]) == 0)
                return i;
    char list[256] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    if (cJSON_IsString(v))
        fail(x, p, "'%.60s' is not one of %s", v->valuestring ? v->valuestring : "", list);
    else
        fail(x, p, "expected one of %s, found %s", list, type_name(v));
    return 0;
}

static const char *const verdict_names[] = {"MATCH", "WITHIN_TOL", "MISMATCH", "MISSING"};
static const char *const overall_names[] = {"IDENTICAL", "STRUCTURAL_DRIFT", "MISMATCH", "N/A"};
static const char *const mode_names[] = {"numeric", "as_designed", "kv_aligned"};
static const char *const ev_names[] = {"jump",       "stats",     "qkv",   "note", "warning", "fresh",
                                       "structured", "nonfinite", "dtypes"};
static const char *const kv_names[] = {"cache_prefix", "cache_write", "causal"};
static const char *const kv_results[] = {"fail", "pass", "n/a"};
static const char *const side_names[] = {"left", "right", "both"};

static const char **str_list(jx *x, const cJSON *arr, const char *where, size_t *n)
{
    *n = 0;
    if (!arr || x->failed)
        return NULL;
    size_t cnt = (size_t)cJSON_GetArraySize(arr);
    const char **out = rp_arena_alloc(x->a, cnt ? cnt : 1, sizeof *out);
    if (!out) {
        nomem(x);
        return NULL;
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        char p[256];
        snprintf(p, sizeof p, "%s[%zu]", where, i);
        out[i++] = str_value(x, it, p, 0);
    }
    *n = i;
    return out;
}

static int coord_list(jx *x, const cJSON *arr, const char *where, uint64_t *out, int *n)
{
    *n = 0;
    if (!arr || x->failed)
        return -1;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        char p[256];
        snprintf(p, sizeof p, "%s[%d]", where, i);
        if (i == RP_MAX_DIMS) {
            fail(x, where, "more than %d dimensions", RP_MAX_DIMS);
            return -1;
        }
        double d = 0;
        if (int_value(x, it, p, 0, MAX_SAFE_INT, &d) != 0)
            return -1;
        out[i++] = (uint64_t)d;
    }
    *n = i;
    return 0;
}

static int is_hex16(const char *s)
{
    if (!s || strlen(s) != 16)
        return 0;
    for (int i = 0; i < 16; i++)
        if (!strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

static void load_stats(jx *x, const cJSON *o, const char *where, rp_stats *st)
{
    const cJSON *s = get_obj(x, o, "stats", where, 1);
    if (!s)
        return;
    char w[256];
    path2(w, sizeof w, where, "stats");
    st->present = 1;
    st->min = get_num(x, s, "min", w);
    st->max = get_num(x, s, "max", w);
    st->mean = get_num(x, s, "mean", w);
    st->absmax = get_num(x, s, "absmax", w);
    st->l2 = get_num(x, s, "l2", w);
    st->nan_count = get_count(x, s, "nan_count", w);
    st->inf_count = get_count(x, s, "inf_count", w);
}

/* a side object, or null when nullable */
static void load_side(jx *x, const cJSON *parent, const char *key, const char *where, rp_side *s)
{
    memset(s, 0, sizeof *s);
    char w[256];
    path2(w, sizeof w, where, key);
    const cJSON *o = get_obj(x, parent, key, where, 1);
    if (!o)
        return;
    s->present = 1;
    s->record = get_count(x, o, "record", w);
    s->row_begin = get_count(x, o, "row_begin", w);
    s->row_count = get_count(x, o, "row_count", w);
    s->prompt_id = get_str(x, o, "prompt_id", w, 0);
    s->phase = get_str(x, o, "phase", w, 0);
    s->point = get_str(x, o, "point", w, 0);
    s->layer = get_i32(x, o, "layer", w);
    s->step = get_i32(x, o, "step", w);
    s->token_id = get_i32(x, o, "token_id", w);
    s->logical_tok_idx = get_i32(x, o, "logical_tok_idx", w);
    s->pos_id = get_i32(x, o, "pos_id", w);
    s->rows = get_i32(x, o, "rows", w);
    s->rank = get_i32(x, o, "rank", w);
    s->dtype = get_str(x, o, "dtype", w, 0);
    char ws[280];
    coord_list(x, get_arr(x, o, "shape", w), path2(ws, sizeof ws, w, "shape"), s->shape, &s->ndim);
    s->has_payload = get_bool(x, o, "has_payload", w);
    const char *h = get_str(x, o, "hash", w, 1);
    const char *hd = get_str(x, o, "hash_dec", w, 1);
    if (h) {
        if (!is_hex16(h))
            fail(x, path2(ws, sizeof ws, w, "hash"), "'%.40s' is not 16 lower-case hex digits", h);
        else {
            s->has_hash = 1;
            memcpy(s->hash, h, 17);
            snprintf(s->hash_dec, sizeof s->hash_dec, "%s", hd ? hd : "");
        }
    }
    load_stats(x, o, w, &s->stats);
}

static void load_metrics(jx *x, const cJSON *parent, const char *where, rp_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->rel_l2 = m->cosine = m->max_ulp = NAN;
    char w[256];
    path2(w, sizeof w, where, "metrics");
    const cJSON *o = get_obj(x, parent, "metrics", where, 1);
    if (!o)
        return;
    m->present = 1;
    m->compared = get_bool(x, o, "compared", w);
    m->elems = get_count(x, o, "elems", w);
    m->diff_elems = get_count(x, o, "diff_elems", w);
    m->max_abs = get_num(x, o, "max_abs", w);
    m->max_abs_index = get_count(x, o, "max_abs_index", w);
    char wc[280];
    coord_list(x, get_arr(x, o, "max_abs_coord", w), path2(wc, sizeof wc, w, "max_abs_coord"), m->max_abs_coord,
               &m->ncoord);
    m->max_abs_left = get_num(x, o, "max_abs_left", w);
    m->max_abs_right = get_num(x, o, "max_abs_right", w);
    m->rel_l2 = get_num(x, o, "rel_l2", w);
    m->cosine = get_num(x, o, "cosine", w);
    m->max_ulp = get_num(x, o, "max_ulp", w);
    m->outside_tol = get_count(x, o, "outside_tol", w);
    m->nan_mismatch = get_count(x, o, "nan_mismatch", w);
    m->inf_mismatch = get_count(x, o, "inf_mismatch", w);
    m->rtol = get_num(x, o, "rtol", w);
    m->atol = get_num(x, o, "atol", w);
    m->atol_abs = get_num(x, o, "atol_abs", w);
    m->atol_rms = get_num(x, o, "atol_rms", w);
    m->ref_rms = get_num(x, o, "ref_rms", w);
    m->tol_source = get_str(x, o, "tol_source", w, 1);
}

static void load_input(jx *x, const cJSON *root, const char *key, rp_input *in)
{
    const cJSON *o = get_obj(x, root, key, "", 0);
    if (!o)
        return;
    in->path = get_str(x, o, "path", key, 0);
    char w[64];
    in->filter = str_list(x, get_arr(x, o, "filter", key), path2(w, sizeof w, key, "filter"), &in->nfilter);
    in->records = get_count(x, o, "records", key);
    const cJSON *meta = get_obj(x, o, "meta", key, 0);
    if (!meta || x->failed)
        return;
    size_t n = (size_t)cJSON_GetArraySize(meta);
    in->meta = rp_arena_alloc(x->a, n ? n : 1, sizeof *in->meta);
    if (!in->meta) {
        nomem(x);
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, meta)
    {
        char p[300];
        snprintf(p, sizeof p, "%s.meta.%.200s", key, it->string ? it->string : "");
        const char *k = rp_arena_strdup(x->a, it->string ? it->string : "");
        const char *v = str_value(x, it, p, 0);
        if (!k && !x->failed)
            nomem(x);
        if (x->failed)
            return;
        in->meta[in->nmeta].key = k;
        in->meta[in->nmeta].value = v;
        in->nmeta++;
    }
}

static void load_counts(jx *x, const cJSON *root, rp_counts *c)
{
    const cJSON *o = get_obj(x, root, "counts", "", 0);
    if (!o)
        return;
    c->pairs = get_count(x, o, "pairs", "counts");
    c->match = get_count(x, o, "match", "counts");
    c->within_tol = get_count(x, o, "within_tol", "counts");
    c->mismatch = get_count(x, o, "mismatch", "counts");
    c->missing = get_count(x, o, "missing", "counts");
    /* optional in the schema */
    const char *opt[] = {"duplicates", "uncovered_rows", "errors", "stats_only", "hash_skipped", "jumps",
                         "bytes_compared"};
    uint64_t *dst[] = {&c->duplicates, &c->uncovered_rows, &c->errors, &c->stats_only, &c->hash_skipped,
                       &c->jumps, &c->bytes_compared};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        if (cJSON_GetObjectItemCaseSensitive(o, opt[i]))
            *dst[i] = get_count(x, o, opt[i], "counts");
}

static void load_pairs(jx *x, const cJSON *root, rp_result *r)
{
    const cJSON *arr = get_arr(x, root, "pairs", "");
    if (!arr || x->failed)
        return;
    r->npairs = (size_t)cJSON_GetArraySize(arr);
    r->pairs = rp_arena_alloc(x->a, r->npairs ? r->npairs : 1, sizeof *r->pairs);
    if (!r->pairs) {
        nomem(x);
        return;
    }
    static const char *const flag_names[] = RP_FLAG_NAMES;
    size_t i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        char w[64];
        snprintf(w, sizeof w, "pairs[%zu]", i);
        rp_pair *p = &r->pairs[i];
        if (!cJSON_IsObject(o)) {
            fail(x, w, "expected an object, found %s", type_name(o));
            return;
        }
        p->index = get_count(x, o, "index", w);
        if (!x->failed && p->index != i)
            fail(x, w, "index %llu where %zu was expected (pairs are listed in index order)",
                 (unsigned long long)p->index, i);
        p->group = get_ref(x, o, "group", w, r->ngroups, "group");
        p->point = get_str(x, o, "point", w, 0);
        p->layer = get_i32(x, o, "layer", w);
        p->stage_rank = get_i32(x, o, "stage_rank", w);
        p->verdict = (rp_verdict)get_enum(x, o, "verdict", w, verdict_names, 4);
        p->numeric_verdict = (rp_verdict)get_enum(x, o, "numeric_verdict", w, verdict_names, 4);
        p->root_cause = get_str(x, o, "root_cause", w, 1);
        const cJSON *fl = get_arr(x, o, "flags", w);
        const cJSON *f;
        cJSON_ArrayForEach(f, fl)
        {
            int known = 0;
            for (unsigned b = 0; cJSON_IsString(f) && b < sizeof flag_names / sizeof flag_names[0]; b++)
                if (strcmp(f->valuestring, flag_names[b]) == 0) {
                    p->flags |= 1u << b;
                    known = 1;
                }
            if (!cJSON_IsString(f)) {
                char wf[80];
                fail(x, path2(wf, sizeof wf, w, "flags"), "expected strings, found %s", type_name(f));
            }
            (void)known; /* unknown flags of a newer tracediff are ignored */
        }
        p->error = get_str(x, o, "error", w, 1);
        load_side(x, o, "left", w, &p->left);
        load_side(x, o, "right", w, &p->right);
        load_metrics(x, o, w, &p->m);
        const cJSON *j = get_obj(x, o, "jump", w, 1);
        if (j) {
            char wj[80];
            path2(wj, sizeof wj, w, "jump");
            p->has_jump = 1;
            p->jump_ratio = get_num(x, j, "ratio", wj);
            p->jump_baseline = get_num(x, j, "baseline", wj);
        }
        if (x->failed)
            return;
        i++;
    }
}

static void load_groups(jx *x, const cJSON *root, rp_result *r, size_t npairs)
{
    const cJSON *arr = get_arr(x, root, "groups", "");
    if (!arr || x->failed)
        return;
    r->ngroups = (size_t)cJSON_GetArraySize(arr);
    r->groups = rp_arena_alloc(x->a, r->ngroups ? r->ngroups : 1, sizeof *r->groups);
    if (!r->groups) {
        nomem(x);
        return;
    }
    size_t i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        char w[64];
        snprintf(w, sizeof w, "groups[%zu]", i);
        if (!cJSON_IsObject(o)) {
            fail(x, w, "expected an object, found %s", type_name(o));
            return;
        }
        rp_group *g = &r->groups[i++];
        g->prompt_id = get_str(x, o, "prompt_id", w, 1);
        g->token_id = get_i32(x, o, "token_id", w);
        g->logical_tok_idx = get_i32(x, o, "logical_tok_idx", w);
        g->pos_id = get_i32(x, o, "pos_id", w);
        g->pairs = get_count(x, o, "pairs", w);
        g->match = get_count(x, o, "match", w);
        g->within_tol = get_count(x, o, "within_tol", w);
        g->mismatch = get_count(x, o, "mismatch", w);
        g->missing = get_count(x, o, "missing", w);
        g->first_failure = get_index(x, o, "first_failure", w, npairs, "pair");
        g->root_cause = get_str(x, o, "root_cause", w, 1);
        if (x->failed)
            return;
    }
}

/* The first failure's "judgement" (optional: JSON from before it existed has none). */
static void load_judgement(jx *x, const cJSON *o, rp_judgement *jd)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "judgement");
    if (!v || cJSON_IsNull(v))
        return;
    const char *w = "first_failure.judgement";
    if (!cJSON_IsObject(v)) {
        fail(x, w, "expected an object, found %s", type_name(v));
        return;
    }
    jd->has = 1;
    jd->decided_by = get_str(x, v, "decided_by", w, 0);
    jd->precision = get_str(x, v, "precision", w, 0);
    jd->ulp_dtype = get_str(x, v, "ulp_dtype", w, 0);
    jd->unit = get_num(x, v, "unit", w);
    jd->scale = get_num(x, v, "scale", w);
    jd->outliers = get_count(x, v, "outliers", w);
    jd->sampled = get_count(x, v, "sampled", w);
    jd->error = get_num(x, v, "error", w);
    jd->baseline = get_num(x, v, "baseline", w);
    jd->floor = get_num(x, v, "floor", w);
    jd->allowed = get_num(x, v, "allowed", w);
    const cJSON *fit = get_obj(x, v, "fit", w, 0);
    if (fit) {
        const char *wf = "first_failure.judgement.fit";
        jd->fit_n = get_count(x, fit, "n", wf);
        jd->alpha = get_num(x, fit, "alpha", wf);
        jd->alpha_t = get_num(x, fit, "alpha_t", wf);
        jd->beta = get_num(x, fit, "beta", wf);
        jd->beta_t = get_num(x, fit, "beta_t", wf);
    }
    static const char *const sides[2] = {"nonfinite_left", "nonfinite_right"};
    for (int s = 0; s < 2; s++) {
        const cJSON *nf = get_obj(x, v, sides[s], w, 0);
        jd->first[s] = -1;
        if (!nf)
            continue;
        jd->nan[s] = get_count(x, nf, "nan", sides[s]);
        jd->inf[s] = get_count(x, nf, "inf", sides[s]);
        const cJSON *fi = cJSON_GetObjectItemCaseSensitive(nf, "first");
        if (cJSON_IsNumber(fi))
            jd->first[s] = (int64_t)fi->valuedouble;
    }
}

static void load_failure(jx *x, const cJSON *root, rp_result *r)
{
    rp_failure *f = &r->ff;
    f->pair = f->kv_check = -1;
    f->rank = -1;
    const cJSON *o = get_obj(x, root, "first_failure", "", 1);
    if (!o || x->failed)
        return;
    const char *w = "first_failure";
    f->present = 1;
    f->layer = get_i32(x, o, "layer", w);
    f->point = get_str(x, o, "point", w, 0);
    f->root_cause = get_str(x, o, "root_cause", w, 0);
    f->group = get_ref(x, o, "group", w, r->ngroups, "group");
    f->pair = get_index(x, o, "pair", w, r->npairs, "pair");
    f->kv_check = get_index(x, o, "kv_check", w, r->nkv, "kv_check");
    f->rank = cJSON_GetObjectItemCaseSensitive(o, "rank") ? get_i32(x, o, "rank", w) : -1; /* older results: none */
    const cJSON *k = get_obj(x, o, "key", w, 0);
    if (k) {
        const char *wk = "first_failure.key";
        f->prompt_id = get_str(x, k, "prompt_id", wk, 1);
        f->token_id = get_i32(x, k, "token_id", wk);
        f->logical_tok_idx = get_i32(x, k, "logical_tok_idx", wk);
        f->pos_id = get_i32(x, k, "pos_id", wk);
        if (cJSON_GetObjectItemCaseSensitive(k, "left_phase"))
            f->left_phase = get_str(x, k, "left_phase", wk, 1);
        if (cJSON_GetObjectItemCaseSensitive(k, "right_phase"))
            f->right_phase = get_str(x, k, "right_phase", wk, 1);
    }
    f->verdict = (rp_verdict)get_enum(x, o, "verdict", w, verdict_names, 4);
    load_metrics(x, o, w, &f->m);
    load_judgement(x, o, &f->j);
    load_side(x, o, "left", w, &f->left);
    load_side(x, o, "right", w, &f->right);
    const cJSON *h = get_obj(x, o, "histogram", w, 1);
    if (h && !x->failed) {
        const char *wh = "first_failure.histogram";
        const cJSON *e = get_arr(x, h, "edges", wh), *c = get_arr(x, h, "counts", wh);
        if (x->failed)
            return;
        size_t ne = (size_t)cJSON_GetArraySize(e), nc = (size_t)cJSON_GetArraySize(c);
        if (ne < 1 || nc != ne + 2) {
            fail(x, wh, "%zu counts for %zu edges (expected edges + 2: zeros, one bin per edge, above)", nc, ne);
            return;
        }
        f->edges = rp_arena_alloc(x->a, ne, sizeof *f->edges);
        f->counts = rp_arena_alloc(x->a, nc, sizeof *f->counts);
        if (!f->edges || !f->counts) {
            nomem(x);
            return;
        }
        size_t i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, e)
        {
            if (!cJSON_IsNumber(it) || !(it->valuedouble > 0) || (i && !(it->valuedouble > f->edges[i - 1]))) {
                fail(x, "first_failure.histogram.edges", "edge %zu is not a positive number above the one before", i);
                return;
            }
            f->edges[i++] = it->valuedouble;
        }
        i = 0;
        cJSON_ArrayForEach(it, c)
        {
            char p[64];
            snprintf(p, sizeof p, "first_failure.histogram.counts[%zu]", i);
            double d = 0;
            if (int_value(x, it, p, 0, MAX_SAFE_INT, &d) != 0)
                return;
            f->counts[i++] = (uint64_t)d;
        }
        f->nedges = ne;
        f->has_hist = 1;
    }
    const cJSON *wa = get_arr(x, o, "worst", w);
    if (!wa || x->failed)
        return;
    size_t n = (size_t)cJSON_GetArraySize(wa);
    f->worst = rp_arena_alloc(x->a, n ? n : 1, sizeof *f->worst);
    if (!f->worst) {
        nomem(x);
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, wa)
    {
        char p[64];
        snprintf(p, sizeof p, "first_failure.worst[%zu]", f->nworst);
        if (!cJSON_IsObject(it)) {
            fail(x, p, "expected an object, found %s", type_name(it));
            return;
        }
        rp_worst *q = &f->worst[f->nworst];
        q->index = get_count(x, it, "index", p);
        char pc[80];
        coord_list(x, get_arr(x, it, "coord", p), path2(pc, sizeof pc, p, "coord"), q->coord, &q->ncoord);
        q->left = get_num(x, it, "left", p);
        q->right = get_num(x, it, "right", p);
        q->abs_err = get_num(x, it, "abs_err", p);
        if (x->failed)
            return;
        f->nworst++;
    }
}

static void load_evidence(jx *x, const cJSON *root, rp_result *r)
{
    const cJSON *arr = get_arr(x, root, "evidence", "");
    if (!arr || x->failed)
        return;
    size_t n = (size_t)cJSON_GetArraySize(arr);
    r->evidence = rp_arena_alloc(x->a, n ? n : 1, sizeof *r->evidence);
    if (!r->evidence) {
        nomem(x);
        return;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        char w[64];
        snprintf(w, sizeof w, "evidence[%zu]", r->nevidence);
        if (!cJSON_IsObject(o)) {
            fail(x, w, "expected an object, found %s", type_name(o));
            return;
        }
        rp_evidence *e = &r->evidence[r->nevidence];
        e->kind = (rp_ev_kind)get_enum(x, o, "kind", w, ev_names, (int)(sizeof ev_names / sizeof ev_names[0]));
        e->pair = get_index(x, o, "pair", w, r->npairs, "pair");
        e->a = get_num(x, o, "a", w);
        e->b = get_num(x, o, "b", w);
        e->text = get_str(x, o, "text", w, 0);
        if (x->failed)
            return;
        r->nevidence++;
    }
}

static void load_kv(jx *x, const cJSON *root, rp_result *r)
{
    const cJSON *arr = get_arr(x, root, "kv_checks", "");
    if (!arr || x->failed)
        return;
    size_t n = (size_t)cJSON_GetArraySize(arr);
    r->kv = rp_arena_alloc(x->a, n ? n : 1, sizeof *r->kv);
    if (!r->kv) {
        nomem(x);
        return;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        char w[64];
        snprintf(w, sizeof w, "kv_checks[%zu]", r->nkv);
        if (!cJSON_IsObject(o)) {
            fail(x, w, "expected an object, found %s", type_name(o));
            return;
        }
        rp_kvcheck *k = &r->kv[r->nkv];
        k->kind = (rp_kv_kind)get_enum(x, o, "kind", w, kv_names, 3);
        int res = get_enum(x, o, "result", w, kv_results, 3);
        k->result = res == 0 ? 0 : res == 1 ? 1 : -1;
        k->side = get_enum(x, o, "side", w, side_names, 3);
        k->pair = get_index(x, o, "pair", w, r->npairs, "pair");
        k->group = get_ref(x, o, "group", w, r->ngroups, "group");
        k->prompt_id = get_str(x, o, "prompt_id", w, 1);
        k->point = get_str(x, o, "point", w, 1);
        k->layer = get_i32(x, o, "layer", w);
        k->rows_checked = get_count(x, o, "rows_checked", w);
        k->bad_rows = get_count(x, o, "bad_rows", w);
        k->first_bad_row = get_index(x, o, "first_bad_row", w, UINT64_MAX, "row");
        k->first_bad_col = get_index(x, o, "first_bad_col", w, UINT64_MAX, "column");
        k->max_abs = get_num(x, o, "max_abs", w);
        k->text = get_str(x, o, "text", w, 0);
        if (x->failed)
            return;
        r->nkv++;
    }
}

static void load_chain(jx *x, const cJSON *root, rp_result *r)
{
    const cJSON *arr = get_arr(x, root, "chain", "");
    if (!arr || x->failed)
        return;
    size_t n = (size_t)cJSON_GetArraySize(arr);
    r->chain = rp_arena_alloc(x->a, n ? n : 1, sizeof *r->chain);
    if (!r->chain) {
        nomem(x);
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        char w[64];
        snprintf(w, sizeof w, "chain[%zu]", r->nchain);
        double d = 0;
        if (int_value(x, it, w, 0, MAX_SAFE_INT, &d) != 0)
            return;
        if (d >= (double)r->npairs) {
            fail(x, w, "pair %.0f out of range (%zu pairs)", d, r->npairs);
            return;
        }
        r->chain[r->nchain++] = (uint64_t)d;
    }
}

/* Reads the whole file (bounded; "-" is standard input; a FIFO or terminal never blocks the open, see
 * cli_open_in()); NULL with the message set on failure. */
static char *slurp(jx *x, const char *path, size_t *len)
{
    FILE *f = cli_open_in(path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= RP_MAX_JSON_BYTES) {
                fail(x, NULL, "larger than %zu MiB: not a diff result this tool reads", RP_MAX_JSON_BYTES >> 20);
                free(buf);
                if (f != stdin)
                    fclose(f);
                return NULL;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb)
                break;
            buf = nb;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (!buf) {
        if (f != stdin)
            fclose(f);
        nomem(x);
        return NULL;
    }
    if (ferror(f)) {
        fail(x, NULL, "read error: %s", strerror(errno));
        free(buf);
        if (f != stdin)
            fclose(f);
        return NULL;
    }
    if (f != stdin)
        fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void parse_error(jx *x, const char *text, size_t len, const char *end)
{
    size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    size_t line = 1, col = 1, depth = 0, deepest = 0;
    int in_str = 0;
    for (size_t i = 0; i < off; i++) {
        char c = text[i];
        if (c == '\n')
            line++, col = 1;
        else
            col++;
        /* the nesting where the parser stopped: cJSON refuses more than CJSON_NESTING_LIMIT levels, and that
         * is a limit of this reader, not a syntax error of the file */
        if (in_str == 2)
            in_str = 1; /* the character after a backslash */
        else if (in_str)
            in_str = c == '\\' ? 2 : c != '"';
        else if (c == '"')
            in_str = 1;
        else if (c == '[' || c == '{')
            deepest = ++depth > deepest ? depth : deepest;
        else if ((c == ']' || c == '}') && depth)
            depth--;
    }
    if (len == 0)
        fail(x, NULL, "not JSON: the file is empty (expected a tracediff --json result)");
    else if (deepest >= CJSON_NESTING_LIMIT)
        fail(x, NULL, "JSON nested more than %d levels deep at line %zu, column %zu: over the nesting limit of this "
             "reader (a tracediff result is a few levels deep)", CJSON_NESTING_LIMIT, line, col);
    else
        fail(x, NULL, "not JSON: syntax error at line %zu, column %zu (expected a tracediff --json result)", line,
             col);
}

/* cJSON returns NULL both for bad JSON and when an allocation fails: its allocations are counted so that running
 * out of memory is reported as such (exit 4), not as a syntax error of the file. */
static int json_alloc_failed;

static void *json_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        json_alloc_failed = 1;
    return p;
}

rp_result *rp_load_json(const char *path, char *err, size_t errlen, int *oom)
{
    jx x = {.file = path, .err = err, .errlen = errlen};
    *oom = 0;
    err[0] = '\0';
    size_t len = 0;
    char *text = slurp(&x, path, &len);
    if (!text) {
        *oom = x.oom;
        return NULL;
    }
    const char *end = NULL;
    /* cJSON's "require null terminated" wants the terminator inside the length: trailing garbage is an error */
    cJSON_Hooks hooks = {json_malloc, free};
    cJSON_InitHooks(&hooks);
    json_alloc_failed = 0;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!root && json_alloc_failed) {
        free(text);
        *oom = 1;
        snprintf(err, errlen, "%s: out of memory parsing its JSON (%zu bytes)", path, len);
        return NULL;
    }
    if (!root) {
        parse_error(&x, text, len, end);
        free(text);
        return NULL;
    }
    free(text);
    rp_arena *a = rp_arena_new();
    rp_result *r = a ? rp_arena_alloc(a, 1, sizeof *r) : NULL;
    if (!r) {
        rp_arena_free(a);
        cJSON_Delete(root);
        *oom = 1;
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    r->arena = a;
    x.a = a;
    r->source = rp_arena_strdup(a, path);

    const cJSON *schema = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "schema") : NULL;
    if (!cJSON_IsObject(root))
        fail(&x, NULL, "not a tracediff result: the JSON is %s, not an object with \"schema\": \"%s\"",
             type_name(root), RP_SCHEMA_ID);
    else if (!schema)
        fail(&x, NULL, "not a tracediff result: no \"schema\" field (expected \"%s\", written by tracediff --json)",
             RP_SCHEMA_ID);
    else if (!cJSON_IsString(schema) || strcmp(schema->valuestring, RP_SCHEMA_ID) != 0) {
        if (cJSON_IsString(schema) && strncmp(schema->valuestring, "tensortrace.diff/", 17) == 0)
            fail(&x, "schema", "version '%.40s' is not supported (this tracereport reads %s)", schema->valuestring,
                 RP_SCHEMA_ID);
        else
            fail(&x, "schema", "'%.60s' is not a tracediff result (expected \"%s\")",
                 cJSON_IsString(schema) ? schema->valuestring : type_name(schema), RP_SCHEMA_ID);
    }
    r->version = get_str(&x, root, "version", "", 0);
    r->verdict = (rp_overall)get_enum(&x, root, "verdict", "", overall_names, 4);
    r->subcause = get_str(&x, root, "subcause", "", 1);
    r->mode = (rp_mode)get_enum(&x, root, "mode", "", mode_names, 3);
    static const char *const aligns[] = {"none", "pos"};
    r->align_pos = get_enum(&x, root, "align", "", aligns, 2);
    r->key = str_list(&x, get_arr(&x, root, "key", ""), "key", &r->nkey);
    r->stages = str_list(&x, get_arr(&x, root, "stages", ""), "stages", &r->nstages);
    load_input(&x, root, "left", &r->left);
    load_input(&x, root, "right", &r->right);
    r->rank = rp_result_rank(r);
    load_counts(&x, root, &r->counts);
    /* groups first (pairs point into them), then pairs, KV checks (the failure may point at one), the rest */
    load_groups(&x, root, r, UINT64_MAX);
    load_pairs(&x, root, r);
    if (!x.failed)
        for (size_t i = 0; i < r->ngroups; i++)
            if (r->groups[i].first_failure >= (int64_t)r->npairs) {
                char w[64];
                snprintf(w, sizeof w, "groups[%zu].first_failure", i);
                fail(&x, w, "pair %lld out of range (%zu pairs)", (long long)r->groups[i].first_failure, r->npairs);
            }
    load_kv(&x, root, r);
    load_failure(&x, root, r);
    load_chain(&x, root, r);
    load_evidence(&x, root, r);
    const cJSON *t = get_obj(&x, root, "timing", "", 0);
    if (t) {
        r->seconds = get_num(&x, t, "seconds", "timing");
        r->threads = get_count(&x, t, "threads", "timing");
    }
    if (!x.failed && r->ff.present && r->ff.pair < 0 && r->ff.kv_check < 0)
        fail(&x, "first_failure", "neither a pair nor a kv_check");
    cJSON_Delete(root);
    if (x.failed) {
        *oom = x.oom;
        rp_arena_free(a);
        return NULL;
    }
    return r;
}
