/*
 * device_ring.h — the bookkeeping of the device capture pools, in plain C with no GPU and no locks (the caller
 * holds its mutex): a byte ring that hands out contiguous, aligned ranges of a fixed buffer in FIFO order and
 * takes them back in any order (the staging pool on the GPU, the pinned pool on the host), and the sequence
 * counters of the job FIFO. Unit-tested by tests/device/test_device_ring.c.
 *
 * Ring: allocations are contiguous (never split across the end: the space left at the end is skipped and charged
 * to the allocation that skipped it). Space comes back in allocation order: a range released early is reused only
 * once every older range has been released, which is what a FIFO pipeline releases anyway (the pinned ring's
 * out-of-order releases come from records the writer refuses, which it releases at once). A request larger than
 * the ring never fits (TT_E_LIMIT); any request up to the capacity fits once the ring is empty.
 */
#ifndef TT_DEVICE_RING_H
#define TT_DEVICE_RING_H

#include <stdint.h>

#include "tt/common.h"

#define TT_RING_FULL 1 /* tt_ring_alloc(): no room now; retry after a release */

typedef struct tt_ring_rec {
    uint64_t off;  /* where the allocation starts */
    uint64_t span; /* bytes it holds from the read position, the skipped end included */
    int freed;
} tt_ring_rec;

typedef struct tt_ring {
    uint64_t cap;   /* bytes */
    uint64_t align; /* every offset and size is a multiple of it (a power of two) */
    uint64_t rd;    /* start of the oldest live allocation (its span) */
    uint64_t wr;    /* where the next allocation would start */
    uint64_t used;  /* bytes held, skipped ends included */
    tt_ring_rec *recs; /* live allocations, oldest first, circular */
    uint32_t nrecs, first, count;
} tt_ring;

/*! tt_ring_init() : a ring of cap bytes (a multiple of align, a power of two) with room for max_allocs live
 *  allocations. @return : TT_OK, TT_E_INVAL or TT_E_NOMEM. */
int tt_ring_init(tt_ring *r, uint64_t cap, uint64_t align, uint32_t max_allocs);
void tt_ring_destroy(tt_ring *r);

/*! tt_ring_alloc() : reserves n (> 0) bytes, rounded up to the alignment; *off is where they start.
 *  @return : TT_OK; TT_RING_FULL (no room or no record now); TT_E_LIMIT (larger than the ring: never fits);
 *  TT_E_INVAL (n == 0). */
int tt_ring_alloc(tt_ring *r, uint64_t n, uint64_t *off);

/*! tt_ring_release() : gives back the live allocation that starts at off.
 *  @return : TT_OK, or TT_E_NOTFOUND when no live allocation starts there (a bug of the caller). */
int tt_ring_release(tt_ring *r, uint64_t off);

/*! tt_ring_fits() : 1 when n bytes can ever be allocated (n rounded up is at most the capacity). */
int tt_ring_fits(const tt_ring *r, uint64_t n);

static inline uint64_t tt_ring_used(const tt_ring *r) { return r->used; }
static inline uint32_t tt_ring_live(const tt_ring *r) { return r->count; }

/*
 * The job FIFO: a fixed array of njobs jobs indexed by sequence number modulo njobs. Three monotonic counters
 * cut the sequence: [done, copied) are being copied to the host or waiting for the completion thread,
 * [copied, admitted) are admitted and waiting for the copy thread. A job's slot is free again when done passes it.
 */
typedef struct tt_fifo {
    uint64_t admitted, copied, done;
    uint32_t njobs;
} tt_fifo;

static inline int tt_fifo_full(const tt_fifo *f) { return f->admitted - f->done >= f->njobs; }
static inline uint32_t tt_fifo_slot(const tt_fifo *f, uint64_t seq) { return (uint32_t)(seq % f->njobs); }

#endif /* TT_DEVICE_RING_H */
