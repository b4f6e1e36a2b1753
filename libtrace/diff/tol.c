/*
 * tol.c — tolerances: the defaults per dtype, tables of per point/layer overrides, the tolerance-file parser
 * (untrusted text: it will be fuzzed, so it is one pure function of its input with a line/column in every
 * error), the command-line form POINT[@LAYER]=RTOL:ATOL and the file writer.
 */
#include "core.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TOL_MAX_ENTRIES 65536
#define TOL_MAX_LINE 4096
#define TOL_MAX_POINT 256

/* Why these numbers: see tools/tracediff/README.md ("Default tolerances"). In short: bf16/f16/fp8 stages round
 * every output to the stored type, so their noise is counted in that type's epsilon (rtol 4 eps of the element,
 * atol 16 eps of the tensor's RMS for bf16/f16, half that in eps for fp8); f32/f64 noise comes from reduction
 * order in wide accumulations, ~sqrt(K) eps per stage growing through the layers, so they get 1e-4 / 1e-12
 * (~840 / ~4500 eps). tinylm's correct engine needs at most half of the bf16 and a twentieth of the f32 value
 * over 8 layers; its bugs move the first failing stage by 10% to 400%. */
int tt_diff_default_tol(tt_dtype dt, double *rtol, double *atol_abs, double *atol_rms)
{
    double r, a = 0, s;
    switch (dt) {
    case TT_F64: r = 1e-12, s = 1e-12; break;
    case TT_F32: r = 1e-4, s = 1e-4; break;
    case TT_F16: r = 4 * 0x1p-10, s = 16 * 0x1p-10; break;
    case TT_BF16: r = 4 * 0x1p-7, s = 16 * 0x1p-7; break;
    case TT_F8_E4M3:
    case TT_F8_E4M3FNUZ: r = 2 * 0x1p-3, s = 4 * 0x1p-3; break;
    case TT_F8_E5M2:
    case TT_F8_E5M2FNUZ: r = 2 * 0x1p-2, s = 4 * 0x1p-2; break;
    case TT_I8: case TT_U8: case TT_I16: case TT_I32: case TT_I64: r = s = 0; break;
    default: r = 3.2e-2, a = 1e-3, s = 0; break; /* unknown: legacy stats of bf16-era engines */
    }
    if (rtol)
        *rtol = r;
    if (atol_abs)
        *atol_abs = a;
    if (atol_rms)
        *atol_rms = s;
    return TT_OK;
}

tt_diff_tols *tt_diff_tols_new(void)
{
    tt_diff_tols *t = calloc(1, sizeof(tt_diff_tols));
    if (t)
        tt_intern_init(&t->keys);
    return t;
}

void tt_diff_tols_free(tt_diff_tols *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].point);
        free(t->v[i].source);
    }
    free(t->v);
    tt_intern_free(&t->keys);
    free(t);
}

size_t tt_diff_tols_count(const tt_diff_tols *t)
{
    return t ? t->n : 0;
}

/* The index key of an entry: "LAYER:POINT", or "*:POINT" for any layer (the layer never holds ':'). Returns a
 * malloc'd string (points have no length limit through the API) or NULL. */
static char *entry_key(const char *point, int any_layer, int32_t layer, size_t *len)
{
    size_t n = strlen(point) + 16;
    char *k = malloc(n);
    if (!k)
        return NULL;
    int m = any_layer ? snprintf(k, n, "*:%s", point) : snprintf(k, n, "%d:%s", (int)layer, point);
    *len = (size_t)m;
    return k;
}

/* The entry for exactly (point, any_layer, layer), or NULL; lookups cost one hash, whatever the table's size. */
tol_entry *diff_tol_find(const tt_diff_tols *t, const char *point, int any_layer, int32_t layer)
{
    if (!t->n)
        return NULL;
    size_t len;
    char *k = entry_key(point, any_layer, layer, &len);
    if (!k) /* out of memory: fall back to a scan rather than report a wrong tolerance */
        for (size_t i = 0; i < t->n; i++) {
            tol_entry *e = &t->v[i];
            if (e->any_layer == (any_layer != 0) && (any_layer || e->layer == layer) && !strcmp(e->point, point))
                return e;
        }
    int64_t id = k ? tt_intern_find(&t->keys, k, len) : -1;
    free(k);
    return id < 0 ? NULL : &t->v[id];
}

int tt_diff_tols_set(tt_diff_tols *t, const char *point, int any_layer, int32_t layer, double rtol, double atol,
                     double atol_rms, const char *source)
{
    if (!t || !point || !*point || !isfinite(rtol) || !isfinite(atol) || !isfinite(atol_rms) || rtol < 0 ||
        atol < 0 || atol_rms < 0 ||
        (!any_layer && layer < -1))
        return TT_E_INVAL;
    char *src = tt_strdup(source ? source : "api");
    if (!src)
        return TT_E_NOMEM;
    tol_entry *e = diff_tol_find(t, point, any_layer, layer);
    if (e) {
        free(e->source);
    } else {
        if (t->n >= TOL_MAX_ENTRIES) {
            free(src);
            return TT_E_LIMIT;
        }
        size_t klen;
        uint32_t id;
        char *k = entry_key(point, any_layer, layer, &klen);
        char *pt = tt_strdup(point);
        /* the key's id is t->n: entries and keys are added together, in the same order */
        if (!k || !pt || tt_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v) != TT_OK ||
            tt_intern_add(&t->keys, k, klen, TOL_MAX_ENTRIES, &id) != TT_OK) {
            free(k);
            free(pt);
            free(src);
            return TT_E_NOMEM;
        }
        free(k);
        e = &t->v[t->n];
        memset(e, 0, sizeof *e);
        e->point = pt;
        e->any_layer = any_layer != 0;
        e->layer = any_layer ? -1 : layer;
        t->n++;
    }
    e->rtol = rtol;
    e->atol = atol;
    e->atol_rms = atol_rms;
    e->source = src;
    return TT_OK;
}

void diff_tol_lookup(const tt_diff_tols *t, const char *point, int32_t layer, tt_dtype dt, double *rtol,
                     double *atol, double *atol_rms, const char **source)
{
    if (t) {
        const tol_entry *e = NULL;
        if (!(e = diff_tol_find(t, point, 0, layer)) && !(e = diff_tol_find(t, point, 1, -1)) &&
            !(e = diff_tol_find(t, "*", 0, layer)))
            e = diff_tol_find(t, "*", 1, -1);
        if (e) {
            *rtol = e->rtol;
            *atol = e->atol;
            *atol_rms = e->atol_rms;
            *source = e->source;
            return;
        }
    }
    tt_diff_default_tol(dt, rtol, atol, atol_rms);
    *source = NULL; /* the caller names the dtype */
}

int diff_tols_copy(const tt_diff_tols *src, tt_diff_tols **out)
{
    *out = tt_diff_tols_new();
    if (!*out)
        return TT_E_NOMEM;
    for (size_t i = 0; src && i < src->n; i++) {
        const tol_entry *e = &src->v[i];
        int rc = tt_diff_tols_set(*out, e->point, e->any_layer, e->layer, e->rtol, e->atol, e->atol_rms, e->source);
        if (rc != TT_OK)
            return rc;
    }
    return TT_OK;
}

/* ---- parsing ------------------------------------------------------------------------------------------------ */

static int perr(char *err, size_t errlen, size_t line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int perr(char *err, size_t errlen, size_t line, size_t col, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "line %zu, column %zu: ", line, col);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return TT_E_PARSE;
}

/* A non-negative finite decimal number, the whole token. */
static int parse_nonneg(const char *tok, double *out)
{
    char *end;
    if (!*tok || *tok == '+' || *tok == '-' || strlen(tok) > 64)
        return -1;
    errno = 0;
    double v = strtod(tok, &end);
    if (*end || errno == ERANGE || !isfinite(v) || v < 0)
        return -1;
    /* strtod accepts "inf", "nan" and hex; only decimal digits, '.', 'e', 'E', '+', '-' are allowed here */
    for (const char *p = tok; *p; p++)
        if (!strchr("0123456789.eE+-", *p))
            return -1;
    *out = v;
    return 0;
}

/* ATOL: a number (absolute) or a number followed by "rms" (a multiple of the reference's RMS). */
static int parse_atol(const char *tok, double *abs_out, double *rms_out)
{
    size_t n = strlen(tok);
    char buf[80];
    if (n > 3 && n < sizeof buf && strcmp(tok + n - 3, "rms") == 0) {
        memcpy(buf, tok, n - 3);
        buf[n - 3] = '\0';
        *abs_out = 0;
        return parse_nonneg(buf, rms_out);
    }
    *rms_out = 0;
    return parse_nonneg(tok, abs_out);
}

static int parse_layer(const char *tok, int *any, int32_t *layer)
{
    if (strcmp(tok, "*") == 0) {
        *any = 1;
        *layer = -1;
        return 0;
    }
    char *end;
    if (!*tok || strlen(tok) > 11)
        return -1;
    errno = 0;
    long v = strtol(tok, &end, 10);
    if (*end || errno || v < -1 || v > INT32_MAX)
        return -1;
    for (const char *p = tok; *p; p++)
        if (!strchr("0123456789-", *p))
            return -1;
    *any = 0;
    *layer = (int32_t)v;
    return 0;
}

static int valid_point(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > TOL_MAX_POINT)
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f)
            return 0;
    return 1;
}

int tt_diff_tol_parse(const char *text, size_t len, tt_diff_tols *t, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!t || (!text && len))
        return TT_E_INVAL;
    /* first occurrence line of each entry added by this text, to name duplicates */
    size_t first_n = t->n;
    size_t *lines = NULL, lines_cap = 0;
    char buf[TOL_MAX_LINE + 1];
    size_t pos = 0, line = 0;
    int rc = TT_OK;
    while (pos < len && rc == TT_OK) {
        line++;
        size_t start = pos;
        while (pos < len && text[pos] != '\n')
            pos++;
        size_t n = pos - start;
        if (pos < len)
            pos++; /* the newline */
        if (n && text[start + n - 1] == '\r')
            n--;
        if (n > TOL_MAX_LINE) {
            rc = TT_E_LIMIT;
            perr(err, errlen, line, 1, "line longer than %d bytes", TOL_MAX_LINE);
            break;
        }
        memcpy(buf, text + start, n);
        buf[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\0' || ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')) {
                rc = perr(err, errlen, line, i + 1, "control character 0x%02x", (unsigned char)buf[i]);
                break;
            }
        if (rc != TT_OK)
            break;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        /* split into up to 5 tokens, remembering their columns */
        char *tok[5];
        size_t col[5];
        int nt = 0;
        char *p = buf;
        for (;;) {
            while (*p == ' ' || *p == '\t')
                p++;
            if (!*p)
                break;
            if (nt == 5)
                break;
            tok[nt] = p;
            col[nt] = (size_t)(p - buf) + 1;
            nt++;
            while (*p && *p != ' ' && *p != '\t')
                p++;
            if (*p)
                *p++ = '\0';
        }
        if (nt == 0)
            continue;
        if (nt == 5) {
            rc = perr(err, errlen, line, col[4], "unexpected fifth field '%.40s' (expected POINT LAYER RTOL ATOL)",
                      tok[4]);
            break;
        }
        if (nt < 4) {
            rc = perr(err, errlen, line, strlen(text + start) >= n ? n + 1 : n + 1,
                      "%d field%s, expected 4: POINT LAYER RTOL ATOL", nt, nt == 1 ? "" : "s");
            break;
        }
        int any;
        int32_t layer;
        double rtol, atol, atol_rms;
        if (!valid_point(tok[0])) {
            rc = perr(err, errlen, line, col[0], "bad point name '%.40s'", tok[0]);
            break;
        }
        if (parse_layer(tok[1], &any, &layer) < 0) {
            rc = perr(err, errlen, line, col[1], "'%.40s' is not a layer (an integer >= -1, or *)", tok[1]);
            break;
        }
        if (parse_nonneg(tok[2], &rtol) < 0) {
            rc = perr(err, errlen, line, col[2], "'%.40s' is not a tolerance (a finite number >= 0)", tok[2]);
            break;
        }
        if (parse_atol(tok[3], &atol, &atol_rms) < 0) {
            rc = perr(err, errlen, line, col[3], "'%.40s' is not an absolute tolerance (a finite number >= 0, "
                      "optionally followed by 'rms')", tok[3]);
            break;
        }
        tol_entry *dup = diff_tol_find(t, tok[0], any, layer);
        if (dup && (size_t)(dup - t->v) >= first_n) {
            rc = perr(err, errlen, line, col[0], "duplicate entry for %s layer %s (first on line %zu)", tok[0],
                      tok[1], lines[dup - t->v - first_n]);
            break;
        }
        char src[64];
        snprintf(src, sizeof src, "line %zu", line);
        size_t before = t->n;
        if ((rc = tt_diff_tols_set(t, tok[0], any, layer, rtol, atol, atol_rms, src)) != TT_OK) {
            if (rc == TT_E_LIMIT)
                perr(err, errlen, line, 1, "more than %d entries", TOL_MAX_ENTRIES);
            break;
        }
        if (t->n > before) {
            if (tt_grow((void **)&lines, &lines_cap, t->n - first_n, sizeof *lines) != TT_OK) {
                rc = TT_E_NOMEM;
                break;
            }
            lines[t->n - 1 - first_n] = line;
        }
    }
    free(lines);
    return rc;
}

int tt_diff_tol_spec(tt_diff_tols *t, const char *spec, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!t || !spec)
        return TT_E_INVAL;
    const char *eq = strrchr(spec, '=');
    if (!eq || eq == spec) {
        snprintf(err ? err : (char[1]){0}, err ? errlen : 1, "'%.100s': expected POINT[@LAYER]=RTOL:ATOL", spec);
        return TT_E_PARSE;
    }
    char name[TOL_MAX_POINT + 16];
    size_t nl = (size_t)(eq - spec);
    if (nl >= sizeof name) {
        snprintf(err ? err : (char[1]){0}, err ? errlen : 1, "'%.60s...': point name too long", spec);
        return TT_E_PARSE;
    }
    memcpy(name, spec, nl);
    name[nl] = '\0';
    int any = 1;
    int32_t layer = -1;
    char *at = strchr(name, '@');
    if (at) {
        *at = '\0';
        if (parse_layer(at + 1, &any, &layer) < 0) {
            snprintf(err ? err : (char[1]){0}, err ? errlen : 1, "'%.100s': '%s' is not a layer", spec, at + 1);
            return TT_E_PARSE;
        }
    }
    if (!valid_point(name)) {
        snprintf(err ? err : (char[1]){0}, err ? errlen : 1, "'%.100s': bad point name", spec);
        return TT_E_PARSE;
    }
    char vals[160];
    if (strlen(eq + 1) >= sizeof vals) {
        snprintf(err ? err : (char[1]){0}, err ? errlen : 1, "'%.60s...': value too long", spec);
        return TT_E_PARSE;
    }
    strcpy(vals, eq + 1);
    char *colon = strchr(vals, ':');
    double rtol, atol, atol_rms;
    if (!colon) {
        snprintf(err ? err : (char[1]){0}, err ? errlen : 1, "'%.100s': expected RTOL:ATOL after '='", spec);
        return TT_E_PARSE;
    }
    *colon = '\0';
    if (parse_nonneg(vals, &rtol) < 0 || parse_atol(colon + 1, &atol, &atol_rms) < 0) {
        snprintf(err ? err : (char[1]){0}, err ? errlen : 1,
                 "'%.100s': RTOL and ATOL must be finite numbers >= 0 (ATOL may end in 'rms')", spec);
        return TT_E_PARSE;
    }
    char src[TOL_MAX_POINT + 32];
    snprintf(src, sizeof src, "--tol %.*s", (int)nl, spec);
    int rc = tt_diff_tols_set(t, name, any, layer, rtol, atol, atol_rms, src);
    if (rc != TT_OK && err && errlen)
        snprintf(err, errlen, "'%.100s': %s", spec, tt_strerror(rc));
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->n + (size_t)k + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static int entry_cmp(const void *a, const void *b)
{
    const tol_entry *x = *(const tol_entry *const *)a, *y = *(const tol_entry *const *)b;
    int c = strcmp(x->point, y->point);
    if (c)
        return c;
    if (x->any_layer != y->any_layer)
        return x->any_layer ? -1 : 1;
    return (x->layer > y->layer) - (x->layer < y->layer);
}

int tt_diff_tols_format(const tt_diff_tols *t, char **out)
{
    if (!out)
        return TT_E_INVAL;
    *out = NULL;
    sbuf b = {0};
    sb_printf(&b, "# tensortrace tolerances v1: POINT LAYER RTOL ATOL ('*' = any); see tools/tracediff/README.md\n");
    size_t n = t ? t->n : 0;
    const tol_entry **ord = malloc((n ? n : 1) * sizeof *ord);
    if (!ord) {
        free(b.p);
        return TT_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        ord[i] = &t->v[i];
    qsort(ord, n, sizeof *ord, entry_cmp);
    for (size_t i = 0; i < n; i++) {
        const tol_entry *e = ord[i];
        char lay[16], at[64];
        if (e->any_layer)
            snprintf(lay, sizeof lay, "*");
        else
            snprintf(lay, sizeof lay, "%d", (int)e->layer);
        /* one form per entry: the RMS form when it is set (an absolute part is then dropped) */
        if (e->atol_rms > 0 || e->atol == 0)
            snprintf(at, sizeof at, "%.9grms", e->atol_rms);
        else
            snprintf(at, sizeof at, "%.9g", e->atol);
        sb_printf(&b, "%-24s %-5s %-12.9g %s\n", e->point, lay, e->rtol, at);
    }
    free(ord);
    if (b.oom) {
        free(b.p);
        return TT_E_NOMEM;
    }
    *out = b.p;
    return TT_OK;
}
