/*
 * device_ring.c — the byte ring of device_ring.h. The live allocations form one run of spans starting at rd, in
 * allocation order; the free space is what lies between the end of that run (wr) and rd, going round.
 */
#include "device_ring.h"

#include <stdlib.h>

int tt_ring_init(tt_ring *r, uint64_t cap, uint64_t align, uint32_t max_allocs)
{
    *r = (tt_ring){0};
    if (!cap || !align || (align & (align - 1)) || cap % align || !max_allocs)
        return TT_E_INVAL;
    r->recs = calloc(max_allocs, sizeof *r->recs);
    if (!r->recs)
        return TT_E_NOMEM;
    r->cap = cap;
    r->align = align;
    r->nrecs = max_allocs;
    return TT_OK;
}

void tt_ring_destroy(tt_ring *r)
{
    free(r->recs);
    *r = (tt_ring){0};
}

static uint64_t round_up(const tt_ring *r, uint64_t n) { return (n + r->align - 1) & ~(r->align - 1); }

int tt_ring_fits(const tt_ring *r, uint64_t n) { return n <= r->cap && round_up(r, n) <= r->cap; }

int tt_ring_alloc(tt_ring *r, uint64_t n, uint64_t *off)
{
    if (!n)
        return TT_E_INVAL;
    if (!tt_ring_fits(r, n))
        return TT_E_LIMIT;
    n = round_up(r, n);
    if (r->count == r->nrecs)
        return TT_RING_FULL;
    if (r->used == 0)
        r->rd = 0; /* an empty ring starts over at 0: the largest contiguous room */
    uint64_t wr = (r->rd + r->used) % r->cap;
    uint64_t at, span;
    if (r->used == 0 || wr > r->rd) {
        /* free: [wr, cap) then [0, rd) */
        if (r->cap - wr >= n) {
            at = wr;
            span = n;
        } else if (r->rd >= n) {
            at = 0;
            span = (r->cap - wr) + n; /* the end [wr, cap) is skipped */
        } else {
            return TT_RING_FULL;
        }
    } else if (wr < r->rd && r->rd - wr >= n) {
        at = wr; /* free: [wr, rd) */
        span = n;
    } else {
        return TT_RING_FULL; /* wr == rd with used > 0: full */
    }
    tt_ring_rec *rec = &r->recs[(r->first + r->count) % r->nrecs];
    rec->off = at;
    rec->span = span;
    rec->freed = 0;
    r->count++;
    r->used += span;
    *off = at;
    return TT_OK;
}

int tt_ring_release(tt_ring *r, uint64_t off)
{
    uint32_t i = 0;
    while (i < r->count) {
        tt_ring_rec *rec = &r->recs[(r->first + i) % r->nrecs];
        if (rec->off == off && !rec->freed)
            break;
        i++;
    }
    if (i == r->count)
        return TT_E_NOTFOUND;
    r->recs[(r->first + i) % r->nrecs].freed = 1;
    while (r->count && r->recs[r->first].freed) {
        tt_ring_rec *rec = &r->recs[r->first];
        r->rd = (r->rd + rec->span) % r->cap;
        r->used -= rec->span;
        r->first = (r->first + 1) % r->nrecs;
        r->count--;
    }
    if (r->used == 0)
        r->rd = 0;
    return TT_OK;
}
