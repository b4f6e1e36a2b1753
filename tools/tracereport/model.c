/*
 * model.c — the arena every result and report lives in, the names of the model's enums (as the JSON spells
 * them), and small accessors the writers share.
 */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A list of blocks; allocations are bump-pointer inside the current block, large ones get their own block. */
#define ARENA_BLOCK (64u * 1024u)

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[]; /* aligned for anything */
} arena_block;

struct rp_arena {
    arena_block *head;
};

rp_arena *rp_arena_new(void)
{
    return calloc(1, sizeof(rp_arena));
}

void rp_arena_free(rp_arena *a)
{
    if (!a)
        return;
    for (arena_block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void *rp_arena_alloc(rp_arena *a, size_t n, size_t size)
{
    if (size && n > (SIZE_MAX / 2) / size)
        return NULL;
    size_t bytes = n * size;
    size_t align = sizeof(max_align_t);
    bytes = (bytes + align - 1) / align * align;
    if (bytes == 0)
        bytes = align;
    arena_block *b = a->head;
    if (!b || b->cap - b->used < bytes) {
        size_t cap = bytes > ARENA_BLOCK / 4 ? bytes : ARENA_BLOCK;
        arena_block *nb = malloc(sizeof(arena_block) + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (cap == bytes && b) { /* a big one: keep the current block for the small ones */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += bytes;
    memset(p, 0, bytes);
    return p;
}

char *rp_arena_strdup(rp_arena *a, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *p = rp_arena_alloc(a, n + 1, 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

char *rp_arena_printf(rp_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = rp_arena_alloc(a, (size_t)n + 1, 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void rp_result_free(rp_result *r)
{
    if (r)
        rp_arena_free(r->arena); /* the result itself lives in its arena */
}

const char *rp_verdict_name(rp_verdict v)
{
    static const char *const n[] = {"MATCH", "WITHIN_TOL", "MISMATCH", "MISSING"};
    return (unsigned)v < 4 ? n[v] : "?";
}

const char *rp_overall_name(rp_overall v)
{
    static const char *const n[] = {"IDENTICAL", "STRUCTURAL_DRIFT", "MISMATCH", "N/A"};
    return (unsigned)v < 4 ? n[v] : "?";
}

const char *rp_mode_name(rp_mode m)
{
    static const char *const n[] = {"numeric", "as_designed", "kv_aligned"};
    return (unsigned)m < 3 ? n[m] : "?";
}

const char *rp_kv_kind_name(rp_kv_kind k)
{
    static const char *const n[] = {"cache_prefix", "cache_write", "causal"};
    return (unsigned)k < 3 ? n[k] : "?";
}

const char *rp_kv_result_name(int result)
{
    return result == 1 ? "pass" : result == 0 ? "fail" : "n/a";
}

const char *rp_side_name(int side)
{
    return side == 0 ? "left" : side == 1 ? "right" : "both";
}

double rp_pair_rel(const rp_pair *p)
{
    if (!p->m.present)
        return NAN;
    return p->m.rel_l2;
}

const char *rp_meta_get(const rp_input *in, const char *key)
{
    for (size_t i = 0; i < in->nmeta; i++)
        if (strcmp(in->meta[i].key, key) == 0)
            return in->meta[i].value;
    return NULL;
}

int32_t rp_result_rank(const rp_result *r)
{
    const char *v = rp_meta_get(&r->left, "rank");
    if (!v || !r->left.path || strstr(r->left.path, " (+"))
        return -1;
    char *end;
    long x = strtol(v, &end, 10);
    return *v && !*end && x >= 0 && x < INT32_MAX ? (int32_t)x : -1;
}
