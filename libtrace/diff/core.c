/*
 * core.c — what every step of the diff pipeline shares: the handle's error message, the string pool, the evidence
 * list, the names of verdicts, modes and checks, and the dtypes' epsilon.
 */
#include "core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt/dtype.h"

int diff_err(tt_diff *d, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->errmsg, sizeof d->errmsg, fmt, ap);
    va_end(ap);
    d->failed = 1;
    return code;
}

const char *diff_intern(tt_diff *d, const char *s)
{
    if (!s)
        s = "";
    uint32_t id;
    if (tt_intern_add(&d->strings, s, strlen(s), SIZE_MAX, &id) != TT_OK)
        return NULL;
    return d->strings.strs[id];
}

int diff_evidence(tt_diff *d, tt_diff_evidence_kind kind, int64_t pair, double a, double b, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (tt_grow((void **)&d->ev.v, &d->ev.cap, d->ev.n + 1, sizeof *d->ev.v) != TT_OK)
        return TT_E_NOMEM;
    const char *t = diff_intern(d, buf);
    if (!t)
        return TT_E_NOMEM;
    tt_diff_evidence *e = &d->ev.v[d->ev.n++];
    e->kind = kind;
    e->pair = pair;
    e->a = a;
    e->b = b;
    e->text = t;
    return TT_OK;
}

/* ---- names -------------------------------------------------------------------------------------------------- */

const char *tt_diff_verdict_name(tt_diff_verdict v)
{
    switch (v) {
    case TT_DIFF_MATCH: return "MATCH";
    case TT_DIFF_WITHIN_TOL: return "WITHIN_TOL";
    case TT_DIFF_MISMATCH: return "MISMATCH";
    case TT_DIFF_MISSING: return "MISSING";
    }
    return "UNKNOWN";
}

const char *tt_diff_overall_name(tt_diff_overall v)
{
    switch (v) {
    case TT_DIFF_IDENTICAL: return "IDENTICAL";
    case TT_DIFF_STRUCTURAL_DRIFT: return "STRUCTURAL_DRIFT";
    case TT_DIFF_OVERALL_MISMATCH: return "MISMATCH";
    case TT_DIFF_NA: return "N/A";
    }
    return "UNKNOWN";
}

const char *tt_diff_mode_name(tt_diff_mode m)
{
    switch (m) {
    case TT_DIFF_MODE_DEFAULT:
    case TT_DIFF_NUMERIC: return "numeric";
    case TT_DIFF_AS_DESIGNED: return "as_designed";
    case TT_DIFF_KV_ALIGNED: return "kv_aligned";
    }
    return "unknown";
}

int tt_diff_mode_from_name(const char *name, tt_diff_mode *out)
{
    static const struct {
        const char *n;
        tt_diff_mode m;
    } t[] = {{"numeric", TT_DIFF_NUMERIC}, {"as_designed", TT_DIFF_AS_DESIGNED}, {"kv_aligned", TT_DIFF_KV_ALIGNED}};
    for (size_t i = 0; name && i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].n) == 0) {
            *out = t[i].m;
            return TT_OK;
        }
    return TT_E_PARSE;
}

const char *tt_diff_decision_name(tt_diff_decision v)
{
    static const char *const names[] = {"none",  "within",    "tolerance", "fresh", "amplified", "scale",
                                        "offset", "nonfinite", "error",     "kv",    "hash"};
    return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "unknown";
}

const char *tt_diff_kv_kind_name(tt_diff_kv_kind k)
{
    switch (k) {
    case TT_DIFF_KV_PREFIX: return "cache_prefix";
    case TT_DIFF_KV_WRITE: return "cache_write";
    case TT_DIFF_KV_CAUSAL: return "causal";
    }
    return "unknown";
}

double diff_dtype_eps(tt_dtype dt)
{
    switch (dt) {
    case TT_F64: return 0x1p-52;
    case TT_F32: return 0x1p-23;
    case TT_F16: return 0x1p-10;
    case TT_BF16: return 0x1p-7;
    case TT_F8_E4M3:
    case TT_F8_E4M3FNUZ: return 0x1p-3;
    case TT_F8_E5M2:
    case TT_F8_E5M2FNUZ: return 0x1p-2;
    case TT_DTYPE_UNKNOWN: return 0x1p-7;
    default: return 0; /* integers */
    }
}
