/*
 * util.c — internal helpers: error formatting, clocks, list parsing, string interning, growable arrays, large
 * buffers.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MADV_HUGEPAGE */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <xxhash.h>

int tt_seterr(char *buf, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, TT_ERRMSG_SIZE, fmt, ap);
    va_end(ap);
    return code;
}

uint64_t tt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t tt_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

char *tt_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

int tt_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s)
        return TT_E_PARSE;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return TT_E_PARSE;
    *out = v;
    return TT_OK;
}

/* Parses one integer at *p (optional '-'), advancing *p. */
static int parse_int_at(const char **p, int64_t *v)
{
    const char *s = *p;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || errno || (*s != '-' && (*s < '0' || *s > '9')))
        return TT_E_PARSE;
    *v = x;
    *p = end;
    return TT_OK;
}

int tt_range_list_parse(const char *text, tt_range_list *l, char *err)
{
    memset(l, 0, sizeof *l);
    if (!text)
        return tt_seterr(err, TT_E_PARSE, "empty list");
    if (strcmp(text, "all") == 0 || strcmp(text, "*") == 0) {
        l->all = 1;
        return TT_OK;
    }
    size_t cap = 0;
    const char *p = text;
    for (;;) {
        int64_t a, b;
        const char *start = p;
        if (parse_int_at(&p, &a) != TT_OK)
            goto bad;
        b = a;
        if (*p == '-') {
            p++;
            if (parse_int_at(&p, &b) != TT_OK || b < a)
                goto bad;
        }
        if (tt_grow((void **)&l->r, &cap, l->n + 1, sizeof *l->r) != TT_OK) {
            tt_range_list_free(l);
            return tt_seterr(err, TT_E_NOMEM, "out of memory");
        }
        l->r[l->n][0] = a;
        l->r[l->n][1] = b;
        l->n++;
        if (*p == 0)
            return TT_OK;
        if (*p != ',') {
            (void)start;
            goto bad;
        }
        p++;
    }
bad:
    tt_range_list_free(l);
    return tt_seterr(err, TT_E_PARSE, "bad integer list \"%s\" at character %zu (expected N, A-B, comma separated, or all)",
                     text, (size_t)(p - text) + 1);
}

int tt_range_list_has(const tt_range_list *l, int64_t v)
{
    if (l->all)
        return 1;
    for (size_t i = 0; i < l->n; i++)
        if (v >= l->r[i][0] && v <= l->r[i][1])
            return 1;
    return 0;
}

void tt_range_list_free(tt_range_list *l)
{
    free(l->r);
    memset(l, 0, sizeof *l);
}

int tt_name_list_parse(const char *text, tt_name_list *l, char *err)
{
    memset(l, 0, sizeof *l);
    size_t cap = 0;
    const char *p = text ? text : "";
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == 0) {
            tt_name_list_free(l);
            return tt_seterr(err, TT_E_PARSE, "empty name in list \"%s\" at character %zu", text ? text : "",
                             (size_t)(p - (text ? text : "")) + 1);
        }
        char *name = malloc(len + 1);
        if (!name || tt_grow((void **)&l->names, &cap, l->n + 1, sizeof *l->names) != TT_OK) {
            free(name);
            tt_name_list_free(l);
            return tt_seterr(err, TT_E_NOMEM, "out of memory");
        }
        memcpy(name, p, len);
        name[len] = 0;
        l->names[l->n++] = name;
        if (!c)
            return TT_OK;
        p = c + 1;
    }
}

int tt_name_list_has(const tt_name_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return 1;
    return 0;
}

void tt_name_list_free(tt_name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

int tt_grow(void **p, size_t *cap, size_t need, size_t esize)
{
    if (need <= *cap)
        return TT_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return TT_E_NOMEM;
        n *= 2;
    }
    if (n > SIZE_MAX / esize)
        return TT_E_NOMEM;
    void *q = realloc(*p, n * esize);
    if (!q)
        return TT_E_NOMEM;
    *p = q;
    *cap = n;
    return TT_OK;
}

/* ---- interning ------------------------------------------------------------------------------------------- */

void tt_intern_init(tt_intern *t) { memset(t, 0, sizeof *t); }

void tt_intern_free(tt_intern *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->strs[i]);
    free(t->strs);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static size_t slot_of(const tt_intern *t, const char *s, size_t len)
{
    size_t mask = t->nslots - 1, i = (size_t)XXH3_64bits(s, len) & mask;
    for (;;) {
        uint32_t id = t->slots[i];
        if (!id)
            return i;
        const char *c = t->strs[id - 1];
        if (strncmp(c, s, len) == 0 && c[len] == 0)
            return i;
        i = (i + 1) & mask;
    }
}

int64_t tt_intern_find(const tt_intern *t, const char *s, size_t len)
{
    if (!t->nslots)
        return -1;
    uint32_t id = t->slots[slot_of(t, s, len)];
    return id ? (int64_t)id - 1 : -1;
}

static int rehash(tt_intern *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 64;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return TT_E_NOMEM;
    free(t->slots);
    t->slots = s;
    t->nslots = n;
    for (size_t i = 0; i < t->n; i++)
        t->slots[slot_of(t, t->strs[i], strlen(t->strs[i]))] = (uint32_t)i + 1;
    return TT_OK;
}

int tt_intern_add(tt_intern *t, const char *s, size_t len, size_t max, uint32_t *id)
{
    if ((t->n + 1) * 2 > t->nslots && rehash(t) != TT_OK)
        return TT_E_NOMEM;
    size_t i = slot_of(t, s, len);
    if (t->slots[i]) {
        *id = t->slots[i] - 1;
        return TT_OK;
    }
    if (t->n >= max)
        return TT_E_LIMIT;
    char *c = malloc(len + 1);
    if (!c || tt_grow((void **)&t->strs, &t->cap, t->n + 1, sizeof *t->strs) != TT_OK) {
        free(c);
        return TT_E_NOMEM;
    }
    memcpy(c, s, len);
    c[len] = 0;
    t->strs[t->n] = c;
    t->slots[i] = (uint32_t)t->n + 1;
    *id = (uint32_t)t->n++;
    return TT_OK;
}

size_t tt_sorted_find(const uint64_t *v, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == x ? lo : SIZE_MAX;
}

/* Transparent huge pages: 2 MiB on x86-64 and on arm64 with 4 KiB pages, the systems this library runs on. */
#define HUGE_PAGE ((size_t)2 << 20)
#define SMALL_PAGE ((size_t)4 << 10)

void *tt_alloc_big(size_t n)
{
#ifdef MADV_HUGEPAGE
    if (n >= HUGE_PAGE && n <= SIZE_MAX - SMALL_PAGE) {
        /* rounded to small pages only: a tail shorter than a huge page stays in small ones */
        size_t len = (n + SMALL_PAGE - 1) & ~(SMALL_PAGE - 1);
        void *q = NULL;
        if (posix_memalign(&q, HUGE_PAGE, len) != 0)
            return NULL;
        (void)madvise(q, len, MADV_HUGEPAGE); /* a hint: failure changes nothing */
        return q;
    }
#endif
    return malloc(n ? n : 1);
}
